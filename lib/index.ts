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
} from "./model.js";
export { classificationMetrics, confusionMatrix, type ClassificationMetrics } from "./metrics.js";
export {
  Trainer,
  TRAINER_STATE_FILE,
  TRAINING_ARGS_FILE,
  TRAIN_LOG_FILE,
  type TrainerOptions,
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
} from "./trainer.js";
export {
  Optimizer,
  type OptimizerOptions,
  type ScheduleOptions,
  type ScheduleKind,
  type TrainStepResult,
} from "./optimizer.js";
export type { SaveFormat, SaveOptions } from "./save.js";
export { setNumThreads, getNumThreads, systemInfo, readCheckpointInfo } from "./system.js";
export {
  Tokenizer,
  type TextInput,
  type IdTensor,
  type EncodeOptions,
  type EncodeBatchOptions,
  type BatchEncoding,
  type RaggedEncoding,
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
