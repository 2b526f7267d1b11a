// What the commands run on, imported only when one runs: the model, the
// tokenizer, the trainer and the thread count load libtorch and the
// tokenizers library, which `ltgbert --help` does without.

/** The package's config, model, tokenizer, trainer and system API, and the CLI's loaders over them (load.ts). */
export async function runtime() {
  return {
    ...(await import("../config.js")),
    ...(await import("../model.js")),
    ...(await import("../system.js")),
    ...(await import("../tokenizer.js")),
    ...(await import("../train/trainer.js")),
    ...(await import("../train/corpus.js")),
    ...(await import("../train/tagging-task.js")),
    ...(await import("../tasks/readers.js")),
    ...(await import("../train/embedding-init.js")),
    ...(await import("./load.js")),
  };
}
