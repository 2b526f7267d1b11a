#!/usr/bin/env node
// The one place that decides which libtorch the addon builds against.
// Order: LIBTORCH (an unpacked libtorch), Torch_DIR (a folder holding
// TorchConfig.cmake), the torch inside python3 (or $PYTHON) if it imports,
// then the system's (Debian/Ubuntu libtorch-dev).
//
//   node scripts/find-libtorch.mjs             JSON description
//   node scripts/find-libtorch.mjs --cmake     the folder for -DTorch_DIR
//   node scripts/find-libtorch.mjs --gyp KEY   a space-separated list for binding.gyp
//                                              (KEY: includes, libdirs, libs, defines, rpath)
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export const HOW_TO_GET_LIBTORCH = `ltgbert needs libtorch (PyTorch's C++ library) to build its native addon, and none was found.
Looked for: $LIBTORCH, $Torch_DIR, the torch module of python3, the system's libtorch-dev.
Get one of:
  - Debian/Ubuntu:  sudo apt-get install libtorch-dev libopenblas0-openmp
  - an unpacked libtorch from pytorch.org:  export LIBTORCH=/path/to/libtorch
  - a Python torch:  pip install torch   (python3 -c 'import torch' must work)
then run the install again.`;

const SYSTEM_TORCH_DIRS = [
  "/usr/lib/x86_64-linux-gnu/cmake/Torch",
  "/usr/lib/aarch64-linux-gnu/cmake/Torch",
  "/usr/lib/cmake/Torch",
  "/usr/share/cmake/Torch",
  "/usr/local/share/cmake/Torch",
  "/usr/local/lib/cmake/Torch",
];

function hasConfig(dir) {
  return Boolean(dir) && existsSync(path.join(dir, "TorchConfig.cmake"));
}

function fromPython() {
  const python = process.env.PYTHON || "python3";
  try {
    const out = execFileSync(python, ["-c", "import torch, torch.utils; print(torch.utils.cmake_prefix_path)"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 60_000,
    }).trim();
    const dir = path.join(out, "Torch");
    return hasConfig(dir) ? dir : null;
  } catch {
    return null;
  }
}

function candidates() {
  const env = process.env;
  const list = [];
  if (env.LIBTORCH) list.push(["LIBTORCH", () => path.join(env.LIBTORCH, "share", "cmake", "Torch")]);
  if (env.Torch_DIR) list.push(["Torch_DIR", () => env.Torch_DIR]);
  list.push(["python3", fromPython]);
  list.push(["system", () => SYSTEM_TORCH_DIRS.find(hasConfig) ?? null]);
  return list;
}

// Walks up from the CMake folder to the prefix that holds include/torch.
function findPrefix(torchDir) {
  let dir = torchDir;
  for (let i = 0; i < 6; i++) {
    dir = path.dirname(dir);
    if (existsSync(path.join(dir, "include", "torch", "csrc", "api", "include"))) return dir;
  }
  return null;
}

function findLibDir(prefix, torchDir) {
  const options = [path.join(prefix, "lib"), path.dirname(path.dirname(torchDir))];
  return (
    options.find((d) => existsSync(path.join(d, "libtorch.so")) || existsSync(path.join(d, "libtorch.dylib"))) ?? null
  );
}

function readVersion(torchDir) {
  try {
    const text = readFileSync(path.join(torchDir, "TorchConfigVersion.cmake"), "utf8");
    return /PACKAGE_VERSION "([^"]+)"/.exec(text)?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

// Wheels of torch < 2.7 and some libtorch downloads use the old C++ ABI; the
// CMake config says which in TORCH_CXX_FLAGS, so read it from there.
function readCxx11Abi(torchDir) {
  try {
    const text = readFileSync(path.join(torchDir, "TorchConfig.cmake"), "utf8");
    const m = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(text);
    return m ? Number(m[1]) : 1;
  } catch {
    return 1;
  }
}

// oneDNN (Debian: libdnnl-dev), which CPU inference uses when it is found and
// works: the same rule as CMakeLists.txt, which runs cmake/onednn-probe. Here
// the probe's program is compiled with the C++ compiler ($CXX or c++) against
// the headers and library found, and run; any failure leaves oneDNN out.
// LTGBERT_WITH_ONEDNN=0 leaves it out too. Returns { status, why } and, when
// used, { includeDir, libDir, version }; status is the one systemInfo() reports.
function locateOneDnn() {
  const roots = [process.env.DNNL_ROOT, "/usr", "/usr/local"].filter(Boolean);
  for (const root of roots) {
    const includeDir = path.join(root, "include");
    if (!existsSync(path.join(includeDir, "oneapi", "dnnl", "dnnl.hpp"))) continue;
    const libDir = [
      path.join(root, "lib"),
      path.join(root, "lib", "x86_64-linux-gnu"),
      path.join(root, "lib", "aarch64-linux-gnu"),
      path.join(root, "lib64"),
    ].find((d) => existsSync(path.join(d, "libdnnl.so")));
    if (libDir) return { includeDir, libDir };
  }
  return null;
}

function probeOneDnn({ includeDir, libDir }) {
  const source = path.join(root, "cmake", "onednn-probe", "probe.cc");
  const cxx = process.env.CXX || "c++";
  const dir = mkdtempSync(path.join(os.tmpdir(), "ltgbert-onednn-probe-"));
  try {
    const exe = path.join(dir, "probe");
    const args = ["-std=c++17", source, `-I${includeDir}`, `-L${libDir}`, "-ldnnl", `-Wl,-rpath,${libDir}`, "-o", exe];
    const built = spawnSync(cxx, args, { encoding: "utf8", timeout: 120_000 });
    if (built.status !== 0) {
      const why = (built.stderr || built.error?.message || "").split("\n").find((l) => /error/i.test(l)) ?? "";
      return { status: "build-failed", why: `a small program on it did not compile or link: ${why.trim()}` };
    }
    const ran = spawnSync(exe, [], { encoding: "utf8", timeout: 60_000 });
    if (ran.status !== 0) {
      return { status: "run-failed", why: `a small program on it did not run: ${(ran.stderr || "").trim()}` };
    }
    return { status: "used", includeDir, libDir, version: ran.stdout.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// binding.gyp asks several times in one configure: the probe runs once per
// set of inputs, its result kept under build/ (node-gyp rebuild starts anew).
export function findOneDnn({ report = false } = {}) {
  if (process.env.LTGBERT_WITH_ONEDNN === "0") {
    return { status: "turned-off", why: "turned off (LTGBERT_WITH_ONEDNN=0)" };
  }
  const found = locateOneDnn();
  if (!found) return { status: "not-found", why: "not found (Debian: apt-get install libdnnl-dev)" };
  const stamp = (file) => {
    try {
      return statSync(file).mtimeMs;
    } catch {
      return 0;
    }
  };
  const key = JSON.stringify([
    found,
    process.env.CXX ?? "",
    stamp(path.join(found.libDir, "libdnnl.so")),
    stamp(path.join(found.includeDir, "oneapi", "dnnl", "dnnl.hpp")),
    stamp(path.join(root, "cmake", "onednn-probe", "probe.cc")),
  ]);
  const cacheFile = path.join(root, "build", "onednn-probe.json");
  try {
    const cached = JSON.parse(readFileSync(cacheFile, "utf8"));
    if (cached.key === key) return cached.result;
  } catch {
    // no cache yet
  }
  const result = probeOneDnn(found);
  if (report) {
    process.stderr.write(
      result.status === "used"
        ? `ltgbert: oneDNN ${result.version} found and working: CPU inference uses it\n`
        : `ltgbert: oneDNN not used, ${result.why}: CPU inference uses libtorch's ops\n`,
    );
  }
  try {
    mkdirSync(path.dirname(cacheFile), { recursive: true });
    writeFileSync(cacheFile, JSON.stringify({ key, result }));
  } catch {
    // a read-only tree probes again next time
  }
  return result;
}

function bundlesOneDnn(prefix) {
  const own = path.join(prefix, "include", "oneapi", "dnnl", "dnnl.hpp");
  const system = locateOneDnn();
  return (
    existsSync(own) &&
    (!system || realpathSync(path.join(system.includeDir, "oneapi", "dnnl", "dnnl.hpp")) !== realpathSync(own))
  );
}

export function findLibtorch({ report = false } = {}) {
  for (const [source, find] of candidates()) {
    const torchDir = find();
    if (!hasConfig(torchDir)) continue;
    const prefix = findPrefix(torchDir);
    if (!prefix) continue;
    const libDir = findLibDir(prefix, torchDir);
    if (!libDir) continue;
    const cuda = existsSync(path.join(libDir, "libtorch_cuda.so"));
    const libs = ["torch", "torch_cpu", "c10", ...(cuda ? ["torch_cuda", "c10_cuda"] : [])];
    return {
      source,
      torchDir,
      prefix,
      version: readVersion(torchDir),
      includeDirs: [path.join(prefix, "include"), path.join(prefix, "include", "torch", "csrc", "api", "include")],
      libDir,
      libs,
      cuda,
      cxx11Abi: readCxx11Abi(torchDir),
      // c10d with Gloo's headers (Debian: libgloo-dev), for data-parallel
      // training; without them the addon builds with none.
      distributed:
        existsSync(path.join(prefix, "include", "torch", "csrc", "distributed", "c10d", "ProcessGroupGloo.hpp")) &&
        [path.join(prefix, "include"), "/usr/include", "/usr/local/include"].some((dir) =>
          existsSync(path.join(dir, "gloo", "algorithm.h")),
        ),
      // A libtorch that bundles oneDNN exports its symbols, which would
      // shadow the system's: use the system's only beside one without.
      onednn: bundlesOneDnn(prefix)
        ? {
            status: "libtorch-bundles-its-own",
            why: "this libtorch bundles its own oneDNN, whose symbols would shadow the system's",
          }
        : findOneDnn({ report }),
    };
  }
  return null;
}

function main(argv) {
  const found = findLibtorch({ report: argv[0] === "--gyp" });
  if (!found) {
    process.stderr.write(HOW_TO_GET_LIBTORCH + "\n");
    process.exit(1);
  }
  if (argv[0] === "--cmake") {
    process.stdout.write(found.torchDir);
  } else if (argv[0] === "--gyp") {
    const dnnl = found.onednn.status === "used" ? found.onednn : null;
    const pick = {
      includes: [...found.includeDirs, ...(dnnl && dnnl.includeDir !== found.includeDirs[0] ? [dnnl.includeDir] : [])],
      libdirs: [`-L${found.libDir}`, ...(dnnl ? [`-L${dnnl.libDir}`] : [])],
      libs: [...found.libs.map((l) => `-l${l}`), ...(dnnl ? ["-ldnnl"] : [])],
      defines: [
        `_GLIBCXX_USE_CXX11_ABI=${found.cxx11Abi}`,
        ...(found.cuda ? ["LTGBERT_WITH_CUDA=1"] : []),
        ...(dnnl ? ["LTGBERT_WITH_DNNL=1"] : []),
        `LTGBERT_ONEDNN_STATUS=${found.onednn.status}`,
        ...(found.distributed ? ["LTGBERT_WITH_DISTRIBUTED=1", "USE_C10D_GLOO=1"] : []),
      ],
      rpath: [`-Wl,-rpath,${found.libDir}`],
    }[argv[1]];
    if (!pick) {
      process.stderr.write(`find-libtorch: --gyp takes includes, libdirs, libs, defines or rpath, got ${argv[1]}\n`);
      process.exit(2);
    }
    process.stdout.write(pick.join(" "));
  } else {
    process.stdout.write(JSON.stringify(found, null, 2) + "\n");
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main(process.argv.slice(2));
}
