#!/usr/bin/env bash
# Installs a packed ltgbert tarball the way a user of the prebuilt addon
# would, and checks that it works: in a brand-new Debian 12 root
# (scripts/fresh-root.sh) that has Node and the runtime libraries only
# (libtorch1.13, libopenblas0-openmp, libdnnl2: no compiler, no cmake, no -dev
# package), `npm install ./ltgbert-<v>.tgz` in a new project must use the
# prebuilt addon without compiling, then `npx ltgbert info default` and a
# forward from the API must work. CI runs it on the tarball it packs.
#
#   scripts/check-prebuilt-install.sh path/to/ltgbert-<v>.tgz
set -euo pipefail
tarball=$(readlink -f "${1:?usage: $0 path/to/ltgbert-<version>.tgz}")
here=$(cd "$(dirname "$0")" && pwd)

if [ "${2:-}" != "__inside" ]; then
  exec "$here/fresh-root.sh" --bind "$(dirname "$tarball"):/srv/pack:ro" --bind "$here:/srv/scripts:ro" -- \
    bash /srv/scripts/check-prebuilt-install.sh "/srv/pack/$(basename "$tarball")" __inside
fi

# Inside the fresh root.
echo "== the runtime libraries only"
apt-get update -qq
apt-get install -y -qq --no-install-recommends libtorch1.13 libopenblas0-openmp libdnnl2 >/dev/null
for tool in cc c++ gcc g++ cmake make; do
  if command -v "$tool" >/dev/null; then
    echo "check-prebuilt-install: $tool is installed here; this check needs a machine without a compiler" >&2
    exit 1
  fi
done
echo "no compiler, no cmake, no make"

echo "== npm install $(basename "$tarball") in a new project"
mkdir -p /srv/app && cd /srv/app
npm init -y >/dev/null
npm install --no-audit --no-fund --foreground-scripts "$tarball" 2>&1 | tee /tmp/install.log
grep -q "ltgbert: using the prebuilt addon prebuilds/linux-x64/ltgbert.node" /tmp/install.log || {
  echo "check-prebuilt-install: the install did not use the prebuilt addon" >&2
  exit 1
}

echo "== npx ltgbert info default"
npx ltgbert info default

echo "== a forward from the API"
cat >check.mjs <<'JS'
import { LtgBertForMaskedLM, Tokenizer, DEFAULT_MODEL_DIR, systemInfo } from "ltgbert";

const info = systemInfo();
console.log(`libtorch ${info.libtorchVersion}, oneDNN ${info.oneDnn || "none"} (${info.oneDnnStatus})`);
if (info.oneDnnStatus !== "used") throw new Error(`the prebuilt addon should run on oneDNN here, got ${info.oneDnnStatus}`);
const model = await LtgBertForMaskedLM.fromPretrained(DEFAULT_MODEL_DIR);
const tokenizer = await Tokenizer.fromPretrained(DEFAULT_MODEL_DIR);
const text = "the film is a [MASK] .";
const ids = await tokenizer.encode(text);
const out = await model.forward({ inputIds: [ids] });
const [b, t, v] = out.logits.shape;
if (b !== 1 || t !== ids.length || v !== model.config.vocab_size) throw new Error(`logits shape ${out.logits.shape}`);
if (!out.logits.data.every(Number.isFinite)) throw new Error("logits are not finite");
const mask = ids.indexOf(tokenizer.tokenToId("[MASK]"));
let best = 0;
for (let i = 1; i < v; i++) if (out.logits.data[mask * v + i] > out.logits.data[mask * v + best]) best = i;
console.log(`forward: logits [${out.logits.shape}], "${text}" -> [MASK] = ${JSON.stringify(tokenizer.idToToken(best))}`);
model.dispose();
JS
node check.mjs
echo "check-prebuilt-install: the prebuilt addon installed without compiling and works"
