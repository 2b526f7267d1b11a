"""The task heads' round trip through the project's Python reference.

Usage:
  python3 heads_roundtrip.py run DIR INPUTS_JSON
      Loads DIR with reference/ltg_bert.py's from_pretrained (the class that
      config.json's `architectures` names; a strict load: a missing or
      unexpected key fails) and runs it in eval mode on the inputs.
  python3 heads_roundtrip.py write DIR ARCHITECTURE TEMPLATE_CONFIG INPUTS_JSON
      Builds ARCHITECTURE from TEMPLATE_CONFIG, moves every parameter off its
      initial value by seeded noise (so a bias loaded into the wrong place
      shows), writes DIR/config.json and DIR/model.safetensors as
      save_pretrained lays them out, then runs it as `run` does.

INPUTS_JSON: {"input_ids", "attention_mask": nested lists ([B, C, T] for
multiple choice), optional "labels", "start_positions", "end_positions"}.
Prints one JSON object: {"architecture", "outputs": {name: {"shape", "data"}},
"loss"?}.
"""

import json
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "reference"))
sys.path.insert(0, HERE)

import torch  # noqa: E402

from ltg_bert import ARCHITECTURES, LtgBertConfig, from_pretrained, init_weights  # noqa: E402
from write_model import write_safetensors  # noqa: E402


def tensor_json(t):
    t = t.detach().float().contiguous()
    return {"shape": list(t.shape), "data": t.flatten().tolist()}


def run(model, inputs):
    ids = torch.tensor(inputs["input_ids"], dtype=torch.long)
    mask = torch.tensor(inputs["attention_mask"], dtype=torch.long)
    arch = type(model).__name__
    with torch.inference_mode():
        if arch == "LtgBertModel":
            out = model(ids, mask, output_hidden_states=True, output_attentions=True)
        elif arch == "LtgBertForQuestionAnswering":
            start = inputs.get("start_positions")
            end = inputs.get("end_positions")
            out = model(ids, mask, None if start is None else torch.tensor(start), None if end is None else torch.tensor(end))
        else:
            labels = inputs.get("labels")
            out = model(ids, mask, None if labels is None else torch.tensor(labels))
    result = {"architecture": arch, "outputs": {}}
    for name, value in out.items():
        if name == "loss":
            result["loss"] = value.item()
        elif isinstance(value, list):
            for i, t in enumerate(value):
                result["outputs"][f"{name}.{i}"] = tensor_json(t)
        else:
            result["outputs"][name] = tensor_json(value)
    return result


def write(directory, architecture, template, inputs):
    with open(template) as f:
        raw = json.load(f)
    raw["architectures"] = [architecture]
    if architecture == "LtgBertForTokenClassification":
        names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
        raw["num_labels"] = len(names)
        raw["id2label"] = {str(i): name for i, name in enumerate(names)}
        raw["label2id"] = {name: i for i, name in enumerate(names)}
    elif architecture == "LtgBertForQuestionAnswering":
        raw["num_labels"] = 2
    elif architecture == "LtgBertForMultipleChoice":
        raw["num_labels"] = 1
    config = LtgBertConfig.from_dict(raw)
    torch.manual_seed(1234)
    model = ARCHITECTURES[architecture](config)
    init_weights(model)
    generator = torch.Generator().manual_seed(5678)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            p.add_(0.05 * torch.randn(p.shape, generator=generator))
    os.makedirs(directory, exist_ok=True)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("position_indices")}
    write_safetensors(os.path.join(directory, "model.safetensors"), state)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(raw, f, indent=2)
    return run(model.eval(), inputs)


def main():
    mode = sys.argv[1]
    if mode == "run":
        with open(sys.argv[3]) as f:
            inputs = json.load(f)
        result = run(from_pretrained(sys.argv[2]), inputs)
    elif mode == "write":
        with open(sys.argv[5]) as f:
            inputs = json.load(f)
        result = write(sys.argv[2], sys.argv[3], sys.argv[4], inputs)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
