export { LtgBertError, type LtgBertErrorCode } from "./errors.js";
export type { LtgBertConfig, LtgBertConfigInput, PositionQkSplit, ClassifierHead, ProblemType } from "./config.js";
export type { TensorData, IdMatrix, LabelInput } from "./inputs.js";
export {
  LtgBertForMaskedLM,
  LtgBertForSequenceClassification,
  StateDict,
  readStateDict,
  type LoadStateDictOptions,
  type TransferOptions,
  type LoadOptions,
  type ClassificationLoadOptions,
  type LoadReport,
  type ForwardInputs,
  type ForwardOptions,
  type ModelOutput,
  type PredictOptions,
  type Prediction,
  type RankedLabel,
  type EmbedOptions,
  type EmbedIdsInput,
  type Embeddings,
} from "./model.js";
export type { Pooling } from "./pooling.js";
export { DEFAULT_MODEL_DIR } from "./default-model.js";
export { classificationMetrics, confusionMatrix, type ClassificationMetrics } from "./metrics.js";
export {
  Trainer,
  TRAINER_STATE_FILE,
  TRAINING_ARGS_FILE,
  TRAIN_LOG_FILE,
  type TrainerOptions,
  type TrainerBaseOptions,
  type MaskedLMTrainerOptions,
  type MaskedLMEvalMetrics,
  type MaskedLMMetricName,
  type TrainableModel,
  type MetricsOf,
  type TrainerOptionsOf,
  type EvalDataOf,
  type TrainOptions,
  type TrainResult,
  type TrainCompleted,
  type TrainInterrupted,
  type TrainerEvents,
  type StepEvent,
  type EvaluateEvent,
  type SaveEvent,
  type LogEntry,
  type EvalMetrics,
  type MetricName,
} from "./train/trainer.js";
export {
  Optimizer,
  type OptimizerOptions,
  type ScheduleOptions,
  type ScheduleKind,
  type TrainStepResult,
} from "./train/optimizer.js";
export {
  maskTokens,
  drawSpanLength,
  spanLengthProbability,
  Random,
  IGNORE_INDEX,
  LTG_BERT_MAX_SPAN_LENGTH,
  type MaskOptions,
  type MaskedBatch,
} from "./train/mlm.js";
export {
  MaskedLMCorpus,
  type CorpusOptions,
  type CorpusSettings,
  type CorpusPosition,
  type CorpusBatch,
  type DocumentBoundary,
} from "./train/corpus.js";
export type { SaveFormat, SaveOptions } from "./save.js";
export { setNumThreads, getNumThreads, systemInfo, readCheckpointInfo, MAX_THREADS } from "./system.js";
export type { CpuCacheStats, OneDnnStatus, PackedWeightStats } from "./system.js";
export {
  Tokenizer,
  trainTokenizer,
  LTG_BERT_SPECIAL_TOKENS,
  type TrainTokenizerOptions,
  type TextInput,
  type IdTensor,
  type EncodeOptions,
  type EncodeBatchOptions,
  type BatchEncoding,
  type RaggedEncoding,
  type TokenDetails,
  type DetailedBatchEncoding,
  type DetailedRaggedEncoding,
} from "./tokenizer.js";
export {
  readDataset,
  encodeDataset,
  makeBatches,
  planBatches,
  shuffle,
  Batches,
  type Dataset,
  type DatasetFormat,
  type ReadDatasetOptions,
  type EncodedDataset,
  type EncodeDatasetOptions,
  type BatchPlanOptions,
  type MakeBatchesOptions,
  type Batch,
} from "./data.js";
export { createServer, type LtgBertServer, type ServerOptions } from "./serve/index.js";
