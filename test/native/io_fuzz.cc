// Mutation fuzzing of the readers: random byte flips, insertions and cuts in
// a safetensors header, in a torch archive's data.pkl and in the zip itself. Every outcome must
// be tensors or an ltgbert::Error; built with -fsanitize=address,undefined
// (build_io_check.sh --fuzz), any out-of-bounds read or crash shows up.
//
//   io_fuzz SAFETENSORS_FILE TORCH_ARCHIVE WORK_DIR ITERATIONS [SEED]
#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "io/checkpoint.h"

namespace {

namespace io = ltgbert::io;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

// Flips, overwrites with "interesting" bytes, inserts, deletes or cuts,
// inside [begin, end) of `text`.
std::string Mutate(std::string text, size_t begin, size_t end, std::mt19937_64& random) {
  static const char kInteresting[] = {0,   1,   0x7f, '\x80', '\xff', '(', ')', 't', 'R', 'q', 'h',
                                      'X', 'J', '.',  '"',    ',',    '[', ']', '{', '}', '9', '-'};
  int mutations = 1 + static_cast<int>(random() % 4);
  for (int m = 0; m < mutations && end > begin; ++m) {
    size_t at = begin + random() % (end - begin);
    switch (random() % 5) {
      case 0:
        text[at] = static_cast<char>(text[at] ^ (1 << (random() % 8)));
        break;
      case 1:
        text[at] = kInteresting[random() % sizeof(kInteresting)];
        break;
      case 2:
        text.insert(text.begin() + at, kInteresting[random() % sizeof(kInteresting)]);
        ++end;
        break;
      case 3:
        text.erase(text.begin() + at);
        --end;
        break;
      case 4:
        if (random() % 4 == 0) {
          text.resize(at);
          end = std::min(end, at);
        }
        break;
    }
  }
  return text;
}

// Reads every element, so a tensor that points outside its memory faults.
double Touch(const io::TensorList& tensors) {
  double sum = 0;
  for (const io::NamedTensor& named : tensors) {
    if (named.tensor.numel() > 0) sum += named.tensor.to(at::kDouble).sum().item<double>();
  }
  return sum;
}

struct Outcome {
  int ok = 0;
  int refused = 0;
};

void Run(const std::string& path, Outcome& outcome) {
  try {
    Touch(io::ReadCheckpoint(path));
    ++outcome.ok;
  } catch (const ltgbert::Error&) {
    ++outcome.refused;
  }
  // Anything else (c10::Error, std::bad_alloc) escapes and fails the run.
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: io_fuzz SAFETENSORS_FILE TORCH_ARCHIVE WORK_DIR ITERATIONS [SEED]\n";
    return 2;
  }
  std::string work = argv[3];
  int iterations = std::stoi(argv[4]);
  std::mt19937_64 random(argc > 5 ? std::stoull(argv[5]) : 1);

  std::string safetensors = ReadText(argv[1]);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) {
    header_size = (header_size << 8) | static_cast<uint8_t>(safetensors[i]);
  }

  caffe2::serialize::PyTorchStreamReader reader(argv[2]);
  std::vector<std::pair<std::string, std::string>> records;
  std::string pickle;
  for (const std::string& name : reader.getAllRecords()) {
    if (name == "version" || name == ".data/version") continue;  // the writer adds it
    auto [data, size] = reader.getRecord(name);
    std::string bytes(static_cast<const char*>(data.get()), size);
    if (name == "data.pkl") {
      pickle = bytes;
    } else {
      records.emplace_back(name, bytes);
    }
  }

  std::string archive = ReadText(argv[2]);
  Outcome st_outcome, pt_outcome, zip_outcome;
  std::string st_path = work + "/fuzz.safetensors";
  std::string pt_path = work + "/fuzz.bin";
  for (int i = 0; i < iterations; ++i) {
    // The length field and the header, sometimes a little of the data too.
    size_t end = 8 + header_size + (random() % 4 == 0 ? 16 : 0);
    WriteText(st_path, Mutate(safetensors, random() % 8 == 0 ? 0 : 8, std::min(end, safetensors.size()), random));
    Run(st_path, st_outcome);

    std::string mutated = Mutate(pickle, 0, pickle.size(), random);
    std::ofstream out(pt_path, std::ios::binary | std::ios::trunc);
    {
      caffe2::serialize::PyTorchStreamWriter writer([&out](const void* data, size_t size) {
        out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
        return size;
      });
      writer.writeRecord("data.pkl", mutated.data(), mutated.size());
      for (const auto& [name, bytes] : records) {
        if (random() % 64 == 0) continue;  // now and then a storage goes missing
        writer.writeRecord(name, bytes.data(), bytes.size());
      }
      writer.writeEndOfFile();
    }
    out.close();
    Run(pt_path, pt_outcome);

    // The zip itself: local headers, central directory, end record.
    WriteText(pt_path, Mutate(archive, 0, archive.size(), random));
    Run(pt_path, zip_outcome);
  }
  std::cout << "safetensors: " << st_outcome.ok << " read, " << st_outcome.refused
            << " refused; torch archive: " << pt_outcome.ok << " read, " << pt_outcome.refused
            << " refused; zip: " << zip_outcome.ok << " read, " << zip_outcome.refused << " refused\n";
  return 0;
}
