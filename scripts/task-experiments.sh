#!/usr/bin/env bash
# The task heads on real data, each fine-tuned from a masked LM (default:
# the shipped `default`) and from random weights in its architecture, with
# the same data, recipe and seed (scripts/transfer-experiment.mjs):
#
#   upos   UD English EWT: train on train, dev on dev, accuracy on test
#   stsb   GLUE STS-B: train on train, Pearson/Spearman on dev
#   arc    ARC-Easy: train on Train, dev on Dev, accuracy on Test
#   qa     SQuAD-shifts New Wikipedia (its first 2,000 training windows in a
#          seeded order, --max-steps), EM/F1 on XQuAD English
#
#   bash scripts/task-experiments.sh <data-dir> [task ...]
#
# <data-dir> holds ud-ewt/, stsb/, mc/ and qa/ as the data's READMEs lay
# them out (the files are not in the repository). Set MODEL, SEEDS, THREADS
# and OUT to change the model, seeds (default 1), libtorch threads (default
# every core) and where the runs go. Each task prints its table and writes
# $OUT/<task>/results.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:?usage: bash scripts/task-experiments.sh <data-dir> [upos|stsb|arc|qa ...]}
shift
tasks=("$@")
[ ${#tasks[@]} -gt 0 ] || tasks=(upos stsb arc qa)
model=${MODEL:-default}
seeds=${SEEDS:-1}
out=${OUT:-${TMPDIR:-/tmp}/ltgbert-task-experiments}
threads=()
[ -z "${THREADS:-}" ] || threads=(--threads "$THREADS")
# The recipe of every task: 32 examples a batch, peak learning rate 2e-4,
# warm-up over the first 10% of the steps (the demo's, on SST-2).
recipe=(--batch-size 32 --lr 2e-4 --warmup-ratio 0.1)

run() {
  local task=$1
  shift
  echo "== $task" >&2
  node "$root/scripts/transfer-experiment.mjs" --model "$model" --seeds "$seeds" --out "$out/$task" "$@"
}

for task in "${tasks[@]}"; do
  case $task in
    upos)
      run upos --test "$data/ud-ewt/en_ewt-ud-test.conllu" -- \
        --train "$data/ud-ewt/en_ewt-ud-train.conllu" --dev "$data/ud-ewt/en_ewt-ud-dev.conllu" \
        --epochs 2 "${recipe[@]}" "${threads[@]}"
      ;;
    stsb)
      run stsb -- --train "$data/stsb/train.tsv" --dev "$data/stsb/dev.tsv" \
        --epochs 3 "${recipe[@]}" "${threads[@]}"
      ;;
    arc)
      run arc --test "$data/mc/ARC-Easy-Test.jsonl" -- \
        --train "$data/mc/ARC-Easy-Train.jsonl" --dev "$data/mc/ARC-Easy-Dev.jsonl" \
        --epochs 2 --batch-size 16 --lr 2e-4 --warmup-ratio 0.1 "${threads[@]}"
      ;;
    qa)
      run qa -- --train "$data/qa/squadshifts-new_wiki_v1.0.json" --dev "$data/qa/xquad.en.json" \
        --max-length 256 --doc-stride 64 --max-steps 125 --batch-size 16 --lr 2e-4 --warmup-ratio 0.1 \
        "${threads[@]}"
      ;;
    *)
      echo "unknown task $task (upos, stsb, arc or qa)" >&2
      exit 2
      ;;
  esac
done
