// Checks native/io without Node: reads the Python reference's fixtures, every
// case that make_bad_checkpoints.py wrote, and round-trips both writers.
//
//   io_check FIXTURES_DIR CASES_DIR WORK_DIR
//
// FIXTURES_DIR is test/fixtures, CASES_DIR the output of
// make_bad_checkpoints.py, WORK_DIR an empty folder for written files (which
// verify_written.py then loads in Python). Prints one line per failure and a
// summary; exits 1 if anything failed. IO_CHECK_VERBOSE=1 also prints every
// error message it checks.
#include <ATen/ATen.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "io/checkpoint.h"

namespace {

using ltgbert::Error;
using ltgbert::ErrorCode;
using ltgbert::io::NamedTensor;
using ltgbert::io::TensorList;
using nlohmann::json;
namespace io = ltgbert::io;

int checks = 0;
int failures = 0;

void Expect(bool ok, const std::string& what) {
  ++checks;
  if (!ok) {
    ++failures;
    std::cout << "FAIL " << what << "\n";
  }
}

std::string Shape(const at::Tensor& t) {
  std::string out = "[";
  for (int64_t d = 0; d < t.dim(); ++d) out += (d ? ", " : "") + std::to_string(t.size(d));
  return out + "]";
}

// Same dtype, same shape, same bytes: what "loaded exactly" means.
bool BitwiseEqual(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || !a.sizes().equals(b.sizes())) return false;
  at::Tensor ca = a.contiguous();
  at::Tensor cb = b.contiguous();
  return ca.nbytes() == cb.nbytes() &&
         (ca.nbytes() == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0);
}

std::map<std::string, at::Tensor> ByName(const TensorList& list) {
  std::map<std::string, at::Tensor> out;
  for (const NamedTensor& named : list) out[named.name] = named.tensor;
  return out;
}

std::vector<std::string> Names(const TensorList& list) {
  std::vector<std::string> out;
  for (const NamedTensor& named : list) out.push_back(named.name);
  return out;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(name);
    }
    ::closedir(d);
  }
  return out;
}

// Runs `body`, expecting an ltgbert::Error with `code` whose message starts
// with `prefix` and contains every `parts`.
void ExpectError(const std::string& what, const std::function<void()>& body, ErrorCode code, const std::string& prefix,
                 const std::vector<std::string>& parts) {
  try {
    body();
    Expect(false, what + ": no error, expected " + ltgbert::ErrorCodeName(code));
  } catch (const Error& e) {
    std::string message = e.what();
    if (std::getenv("IO_CHECK_VERBOSE") != nullptr) std::cout << e.code_name() << " " << message << "\n";
    bool ok = e.code() == code && message.rfind(prefix, 0) == 0;
    for (const std::string& part : parts) ok = ok && message.find(part) != std::string::npos;
    Expect(ok, what + ": got " + e.code_name() + " \"" + message + "\", expected " + ltgbert::ErrorCodeName(code) +
                   " starting with \"" + prefix + "\"");
  } catch (const std::exception& e) {
    Expect(false, what + ": not an ltgbert::Error: " + e.what());
  }
}

at::ScalarType DtypeNamed(const std::string& name) {
  static const std::map<std::string, at::ScalarType> kNames = {
      {"float32", at::kFloat}, {"float16", at::kHalf}, {"bfloat16", at::kBFloat16}, {"float64", at::kDouble},
      {"int64", at::kLong},    {"int32", at::kInt},    {"int16", at::kShort},       {"int8", at::kChar},
      {"uint8", at::kByte},    {"bool", at::kBool}};
  return kNames.at(name);
}

// The values make_bad_checkpoints.py uses: small, exact in every dtype.
at::Tensor Pattern(at::ScalarType type, std::vector<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  at::Tensor base = at::arange(n, at::kDouble);
  at::Tensor values;
  if (type == at::kBool) {
    values = base.remainder(2).eq(1);
  } else if (type == at::kByte) {
    values = base.remainder(256);
  } else if (at::isFloatingType(type)) {
    values = (base - 3) * 0.5;
  } else {
    values = base - 3;
  }
  return values.to(type).reshape(shape);
}

TensorList Read(const std::string& reader, const std::string& path) {
  if (reader == "safetensors") return io::ReadSafetensors(path);
  if (reader == "index") return io::ReadSafetensorsIndex(path);
  if (reader == "torch") return io::ReadTorchArchive(path);
  return io::ReadCheckpoint(path);
}

// ---- the Python reference's fixtures

void CheckFixtures(const std::string& fixtures) {
  std::string tiny = fixtures + "/ltgbert-tiny";
  TensorList seed = io::ReadTorchArchive(tiny + "/seed-mlm/pytorch_model.bin");
  TensorList hub = io::ReadSafetensors(tiny + "/hub-mlm/model.safetensors");
  json expected = json::parse(ReadText(tiny + "/expected.json"));

  Expect(Names(seed) == expected["seed_mlm_state_dict_keys"].get<std::vector<std::string>>(),
         "seed-mlm: keys in the state dict's order");

  auto seed_by_name = ByName(seed);
  auto hub_by_name = ByName(hub);
  Expect(!hub.empty() && hub.size() == hub_by_name.size(), "hub-mlm: unique keys");
  for (const auto& [name, tensor] : hub_by_name) {
    auto it = seed_by_name.find(name);
    Expect(it != seed_by_name.end(), "hub-mlm: " + name + " also in seed-mlm");
    if (it == seed_by_name.end()) continue;
    Expect(BitwiseEqual(tensor, it->second), "seed-mlm vs hub-mlm: " + name + " bitwise equal (" + Shape(tensor) + ")");
  }
  std::set<std::string> extra;
  for (const auto& [name, tensor] : seed_by_name) {
    if (hub_by_name.count(name) == 0) extra.insert(name);
  }
  std::set<std::string> expected_extra = {"classifier.nonlinearity.5.weight"};
  for (int layer = 0; layer < 3; ++layer) {
    expected_extra.insert("transformer.layers." + std::to_string(layer) + ".attention.position_indices");
  }
  Expect(extra == expected_extra, "seed-mlm: only position_indices and the tied weight extra");

  // The tied decoder weight shares the embedding's storage, as in Python.
  const at::Tensor& decoder = seed_by_name["classifier.nonlinearity.5.weight"];
  const at::Tensor& embedding = seed_by_name["embedding.word_embedding.weight"];
  Expect(decoder.is_alias_of(embedding) && BitwiseEqual(decoder, embedding),
         "seed-mlm: tied decoder weight shares the embedding's storage");

  TensorList outputs = io::ReadSafetensors(tiny + "/expected.safetensors");
  auto outputs_by_name = ByName(outputs);
  for (const char* name : {"input_ids", "attention_mask", "mlm_labels", "cls_labels", "mlm.logits",
                           "mlm.last_hidden_state", "position_indices"}) {
    Expect(outputs_by_name.count(name) == 1, std::string("expected.safetensors: has ") + name);
  }
  Expect(
      outputs_by_name["input_ids"].scalar_type() == at::kLong && outputs_by_name["input_ids"].sizes().equals({3, 17}),
      "expected.safetensors: input_ids int64 [3, 17]");
  for (int layer = 0; layer < 3; ++layer) {
    std::string name = "transformer.layers." + std::to_string(layer) + ".attention.position_indices";
    Expect(BitwiseEqual(seed_by_name[name], outputs_by_name["position_indices"]),
           "seed-mlm: " + name + " equals expected position_indices");
  }

  // Folders pick their file.
  for (const char* dir : {"seed-mlm", "seed-cls", "hub-mlm", "hub-cls"}) {
    TensorList list = io::ReadCheckpoint(tiny + "/" + dir);
    Expect(!list.empty(), std::string("ReadCheckpoint(") + dir + ") finds tensors");
  }
  Expect(io::ReadCheckpoint(fixtures + "/ltgbert-babylm").size() == hub.size(),
         "ReadCheckpoint(ltgbert-babylm) reads its model.safetensors");
  TensorList hub_again = io::ReadCheckpoint(tiny + "/hub-mlm");
  Expect(Names(hub_again) == Names(hub), "ReadCheckpoint(hub-mlm) = ReadSafetensors");

  // Tensors alias a private mapping: writing to one changes neither the file
  // nor a second read.
  at::Tensor first = hub[0].tensor;
  at::Tensor before = first.clone();
  first.add_(1);
  TensorList reread = io::ReadSafetensors(tiny + "/hub-mlm/model.safetensors");
  Expect(BitwiseEqual(reread[0].tensor, before), "safetensors: in-place change stays private");
}

// ---- the generated cases

void CheckCases(const std::string& cases_dir) {
  json manifest = json::parse(ReadText(cases_dir + "/manifest.json"));
  for (const json& c : manifest["cases"]) {
    std::string rel = c["file"];
    std::string path = cases_dir + "/" + rel;
    std::string reader = c["read"];
    std::string what = rel + " (" + reader + ")";
    if (c.contains("code")) {
      std::string code = c["code"];
      ErrorCode expected = code == "LTGBERT_FILE_NOT_FOUND" ? ErrorCode::kFileNotFound : ErrorCode::kBadCheckpoint;
      ExpectError(
          what, [&] { Read(reader, path); }, expected, cases_dir + "/" + c["prefix"].get<std::string>(),
          c["message"].get<std::vector<std::string>>());
      continue;
    }
    TensorList list;
    try {
      list = Read(reader, path);
    } catch (const std::exception& e) {
      Expect(false, what + ": " + e.what());
      continue;
    }
    const json& tensors = c["tensors"];
    Expect(list.size() == tensors.size(),
           what + ": " + std::to_string(tensors.size()) + " tensors, got " + std::to_string(list.size()));
    for (size_t i = 0; i < list.size() && i < tensors.size(); ++i) {
      const json& t = tensors[i];
      const at::Tensor& got = list[i].tensor;
      std::string name = t["name"];
      std::vector<int64_t> shape = t["shape"];
      bool ok = list[i].name == name && got.scalar_type() == DtypeNamed(t["dtype"]) && got.sizes().equals(shape) &&
                got.device().is_cpu();
      if (ok) {
        std::vector<double> values;
        for (const json& v : t["values"]) {
          values.push_back(v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>());
        }
        at::Tensor flat = got.to(at::kDouble).contiguous().reshape({-1});
        ok = flat.numel() == static_cast<int64_t>(values.size()) &&
             std::equal(values.begin(), values.end(), flat.data_ptr<double>());
      }
      Expect(ok, what + ": tensor " + std::to_string(i) + " is " + name + " " + t["dtype"].get<std::string>() +
                     " with the expected values (got " + list[i].name + " " + at::toString(got.scalar_type()) +
                     Shape(got) + ")");
    }
    auto by_name = ByName(list);
    for (const json& pair : c["shares"]) {
      std::string a = pair[0], b = pair[1];
      Expect(by_name.count(a) && by_name.count(b) && by_name[a].is_alias_of(by_name[b]),
             what + ": " + a + " and " + b + " share a storage");
    }
  }
  Expect(!Exists(cases_dir + "/" + manifest["marker"].get<std::string>()),
         "no pickle payload ran (the marker file does not exist)");
}

// ---- writing

TensorList Zoo() {
  TensorList zoo;
  for (at::ScalarType type : {at::kFloat, at::kHalf, at::kBFloat16, at::kDouble, at::kLong, at::kInt, at::kShort,
                              at::kChar, at::kByte, at::kBool}) {
    zoo.push_back({std::string("zoo.") + at::toString(type), Pattern(type, {2, 3})});
  }
  zoo.push_back({"zoo.scalar", Pattern(at::kFloat, {})});
  zoo.push_back({"zoo.empty", Pattern(at::kFloat, {0, 4})});
  zoo.push_back({"zoo.transposed", Pattern(at::kFloat, {3, 4}).t()});
  zoo.push_back({"zoo.sliced", Pattern(at::kLong, {5, 4}).slice(0, 1, 4)});
  return zoo;
}

void ExpectSameList(const TensorList& got, const TensorList& want, const std::string& what) {
  Expect(Names(got) == Names(want), what + ": same names in the same order");
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    Expect(BitwiseEqual(got[i].tensor, want[i].tensor), what + ": " + want[i].name + " equal");
  }
}

bool NoTempFiles(const std::string& dir) {
  for (const std::string& name : ListDir(dir)) {
    if (name.find(".tmp-") != std::string::npos) return false;
  }
  return true;
}

void CheckWrites(const std::string& fixtures, const std::string& work) {
  TensorList seed = io::ReadTorchArchive(fixtures + "/ltgbert-tiny/seed-mlm/pytorch_model.bin");
  TensorList all = seed;
  for (NamedTensor& named : Zoo()) all.push_back(std::move(named));

  // Round trips through our own readers; verify_written.py checks Python's.
  std::string st = work + "/roundtrip.safetensors";
  io::WriteSafetensors(st, all, {{"source", "io_check"}});
  ExpectSameList(io::ReadSafetensors(st), all, "safetensors round trip");
  std::string bin = work + "/roundtrip.bin";
  io::WriteTorchArchive(bin, all);
  ExpectSameList(io::ReadTorchArchive(bin), all, "torch archive round trip");

  std::string raw = ReadText(st);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | static_cast<uint8_t>(raw[i]);
  Expect(header_size % 8 == 0, "safetensors: header padded to a multiple of 8");
  json header = json::parse(raw.substr(8, header_size));
  Expect(header["__metadata__"] == json({{"format", "pt"}, {"source", "io_check"}}),
         "safetensors: __metadata__ has format pt and the caller's entries");

  // Overwriting replaces the file and leaves no temporary behind.
  TensorList small = {{"a", Pattern(at::kFloat, {2})}};
  io::WriteSafetensors(st, small, {});
  io::WriteTorchArchive(bin, small);
  ExpectSameList(io::ReadSafetensors(st), small, "safetensors overwrite");
  ExpectSameList(io::ReadTorchArchive(bin), small, "torch archive overwrite");
  Expect(NoTempFiles(work), "no temporary files after successful writes");

  // A write that fails half-way (here: the file size limit, as a full disk
  // would) leaves the old file as it was and no temporary behind.
  std::string st_before = ReadText(st);
  std::string bin_before = ReadText(bin);
  TensorList big = {{"big", at::zeros({1 << 20}, at::kFloat)}};
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit;
  ::getrlimit(RLIMIT_FSIZE, &old_limit);
  rlimit limit = old_limit;
  limit.rlim_cur = 64 * 1024;
  ::setrlimit(RLIMIT_FSIZE, &limit);
  ExpectError("safetensors write past the size limit", [&] { io::WriteSafetensors(st, big); }, ErrorCode::kIo, st,
              {"cannot write"});
  ExpectError("torch archive write past the size limit", [&] { io::WriteTorchArchive(bin, big); }, ErrorCode::kIo, bin,
              {"cannot write"});
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  Expect(ReadText(st) == st_before && ReadText(bin) == bin_before, "failed writes leave the previous files untouched");
  Expect(NoTempFiles(work), "failed writes leave no temporary files");

  // Bad arguments are refused before a file is created.
  std::string fresh = work + "/never.safetensors";
  for (auto writer : {+[](const std::string&p, const TensorList&t) { io::WriteSafetensors(p, t); },
                      +[](const std::string&p, const TensorList&t) { io::WriteTorchArchive(p, t); }}) {
    ExpectError("duplicate names",
                [&] {
                  writer(fresh, {{"a", small[0].tensor}, {"a", small[0].tensor}});
                },
                ErrorCode::kInvalidArgument, fresh, {": a: listed twice"});
    ExpectError("empty name",
                [&] {
                  writer(fresh, {{"", small[0].tensor}});
                },
                ErrorCode::kInvalidArgument, fresh, {"tensor 0 has an empty name"});
    ExpectError("name not UTF-8",
                [&] {
                  writer(fresh, {{"\xff\xfe", small[0].tensor}});
                },
                ErrorCode::kInvalidArgument, fresh, {"not valid UTF-8"});
    ExpectError("undefined tensor",
                [&] {
                  writer(fresh, {{"u", at::Tensor()}});
                },
                ErrorCode::kInvalidArgument, fresh, {"u: undefined tensor"});
    ExpectError("complex dtype",
                [&] {
                  writer(fresh, {{"c", at::zeros({2}, at::kComplexFloat)}});
                },
                ErrorCode::kInvalidArgument, fresh, {"c: dtype ComplexFloat cannot be saved"});
    ExpectError("meta tensor",
                [&] {
                  writer(fresh, {{"m", at::empty({2}, at::device(at::kMeta))}});
                },
                ErrorCode::kInvalidArgument, fresh, {"m: a meta tensor has no data"});
    ExpectError("missing folder", [&] { writer(work + "/no/such/dir/x", small); }, ErrorCode::kFileNotFound,
                work + "/no/such/dir/x", {"does not exist"});
  }
  ExpectError("reserved name",
              [&] {
                io::WriteSafetensors(fresh, {{"__metadata__", small[0].tensor}});
              },
              ErrorCode::kInvalidArgument, fresh, {"reserved"});
  Expect(!Exists(fresh) && NoTempFiles(work), "refused writes create nothing");

  // For verify_written.py: the fixture's tensors and the zoo, both formats.
  io::WriteSafetensors(work + "/python.safetensors", all, {{"source", "io_check"}});
  io::WriteTorchArchive(work + "/python.bin", all);

  // libtorch's own reader, for C++ users of the files we write.
  std::string archive = ReadText(work + "/python.bin");
  c10::IValue loaded = torch::jit::pickle_load(std::vector<char>(archive.begin(), archive.end()));
  Expect(loaded.isGenericDict(), "torch::pickle_load reads the archive as a dict");
  if (loaded.isGenericDict()) {
    TensorList from_libtorch;
    for (const auto& entry : loaded.toGenericDict()) {
      from_libtorch.push_back({entry.key().toStringRef(), entry.value().toTensor()});
    }
    ExpectSameList(from_libtorch, all, "torch::pickle_load of the written archive");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: io_check FIXTURES_DIR CASES_DIR WORK_DIR\n";
    return 2;
  }
  auto section = [](const char* name, const std::function<void()>& body) {
    try {
      body();
    } catch (const std::exception& e) {
      Expect(false, std::string(name) + ": unexpected exception: " + e.what());
    }
  };
  section("fixtures", [&] { CheckFixtures(argv[1]); });
  section("cases", [&] { CheckCases(argv[2]); });
  section("writes", [&] { CheckWrites(argv[1], argv[3]); });
  std::cout << (failures == 0 ? "ok: " : "FAILED: ") << checks - failures << " of " << checks << " checks passed\n";
  return failures == 0 ? 0 : 1;
}
