#include "kernels/linear.h"

#include <ATen/record_function.h>
#include <c10/util/intrusive_ptr.h>

#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>

#include "common/settings.h"

#ifdef LTGBERT_WITH_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace ltgbert::kernels {
namespace {

torch::Tensor Fallback(const torch::Tensor& x, const torch::Tensor& weight, int64_t row_begin, int64_t row_count,
                       const torch::Tensor& bias, Epilogue epilogue, const torch::Tensor& multiplier) {
  auto w = weight.narrow(0, row_begin, row_count);
  auto y = bias.defined() ? torch::addmm(bias, x, w.t()) : torch::mm(x, w.t());
  if (epilogue == Epilogue::kGeluTanh) y = torch::gelu(y, /*approximate=*/"tanh");
  if (epilogue == Epilogue::kGeluErf) y = torch::gelu(y);
  if (multiplier.defined()) y = y * multiplier;
  return y;
}

#ifdef LTGBERT_WITH_DNNL

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A row-major (rows, cols) float matrix with the given strides.
dnnl::memory::desc Matrix(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  return dnnl::memory::desc({rows, cols}, dnnl::memory::data_type::f32, {row_stride, col_stride});
}

void AppendEltwise(dnnl::post_ops& ops, dnnl::algorithm algorithm, float alpha = 0.f) {
#if DNNL_VERSION_MAJOR >= 3
  ops.append_eltwise(algorithm, alpha, 0.f);
#else
  ops.append_eltwise(/*scale=*/1.f, algorithm, alpha, 0.f);
#endif
}

dnnl::matmul::primitive_desc MatmulDesc(const dnnl::memory::desc& src, const dnnl::memory::desc& weights,
                                        const dnnl::memory::desc& bias, const dnnl::memory::desc& dst,
                                        const dnnl::primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
  return dnnl::matmul::primitive_desc(Engine(), src, weights, bias, dst, attr);
#else
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, bias, dst), attr, Engine());
#endif
}

// Inference reads each weight in the layout oneDNN's matmul prefers for it
// (blocked for the vector units), reordered once and kept, instead of
// packing the plain matrix inside every product: about a tenth off a small
// model's forward. An entry is redone when its tensor changes (its version
// counter: in-place ops bump it, and so does the optimizer's step) and
// dropped once the tensor is gone. It costs one more copy of the weights
// that inference has used; LTGBERT_PACK_WEIGHTS=0 turns it off.
bool PackingEnabled() { return GetSettings().pack_weights; }

struct PackedWeights {
  c10::weak_intrusive_ptr<c10::TensorImpl> owner;  // keeps the address from being reused while the entry lives
  const void* data;
  uint32_t version;
  dnnl::memory memory;
};

std::mutex g_packed_mutex;
// (tensor, first row, rows) -> the rows' reordered copy.
std::map<std::tuple<const c10::TensorImpl*, int64_t, int64_t>, PackedWeights> g_packed;

// Forgets the entries of tensors that are gone; the caller holds g_packed_mutex.
void SweepPacked() {
  for (auto e = g_packed.begin(); e != g_packed.end();) e = e->second.owner.expired() ? g_packed.erase(e) : ++e;
}

// The memory to pass as the product's weights: `plain` itself, or the
// rows [row_begin, row_begin + rows) of `weight` reordered into `wanted`.
dnnl::memory WeightsFor(const torch::Tensor& weight, int64_t row_begin, int64_t rows, const dnnl::memory& plain,
                        const dnnl::memory::desc& wanted) {
  if (wanted == plain.get_desc()) return plain;
  const void* data = plain.get_data_handle();
  const uint32_t version = weight._version();
  auto key = std::make_tuple(static_cast<const c10::TensorImpl*>(weight.unsafeGetTensorImpl()), row_begin, rows);
  std::lock_guard<std::mutex> lock(g_packed_mutex);
  auto it = g_packed.find(key);
  if (it != g_packed.end() && !it->second.owner.expired() && it->second.data == data && it->second.version == version &&
      it->second.memory.get_desc() == wanted) {
    return it->second.memory;
  }
  if (it == g_packed.end()) {
    SweepPacked();  // a new tensor: first forget those that are gone
  }
  dnnl::memory packed(wanted, Engine());
  dnnl::stream stream(Engine());
  dnnl::reorder(plain, packed).execute(stream, const_cast<dnnl::memory&>(plain), packed);
  stream.wait();
  g_packed.insert_or_assign(
      key, PackedWeights{c10::weak_intrusive_ptr<c10::TensorImpl>(weight.getIntrusivePtr()), data, version, packed});
  return packed;
}

#endif  // LTGBERT_WITH_DNNL

}  // namespace

PackedWeightStats GetPackedWeightStats() {
  PackedWeightStats stats;
#ifdef LTGBERT_WITH_DNNL
  std::lock_guard<std::mutex> lock(g_packed_mutex);
  for (const auto& [key, entry] : g_packed) {
    if (entry.owner.expired()) continue;
    ++stats.tensors;
    stats.bytes += entry.memory.get_desc().get_size();
  }
#endif
  return stats;
}

void ReleasePackedWeights() {
#ifdef LTGBERT_WITH_DNNL
  std::lock_guard<std::mutex> lock(g_packed_mutex);
  SweepPacked();
#endif
}

bool BatchedMatmul(const StridedArray& a, const StridedArray& b, const StridedArray& out, float alpha,
                   bool accumulate) {
#ifdef LTGBERT_WITH_DNNL
  if (GetSettings().disable_onednn) return false;
  auto desc = [](const StridedArray& x) {
    return dnnl::memory::desc(x.sizes, dnnl::memory::data_type::f32, x.strides);
  };
  dnnl::post_ops ops;
  if (alpha != 1.f) AppendEltwise(ops, dnnl::algorithm::eltwise_linear, alpha);
  if (accumulate) ops.append_sum(1.f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  dnnl::matmul::primitive_desc pd;
  try {
    pd = MatmulDesc(desc(a), desc(b), dnnl::memory::desc(), desc(out), attr);
  } catch (const dnnl::error&) {
    return false;  // no implementation for these layouts
  }
  // The reference kernels are correct but slow: the caller's way is better.
  if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) return false;
  auto& engine = Engine();
  dnnl::matmul matmul(pd);
  dnnl::stream stream(engine);
  matmul.execute(stream, {{DNNL_ARG_SRC, dnnl::memory(desc(a), engine, const_cast<float*>(a.data))},
                          {DNNL_ARG_WEIGHTS, dnnl::memory(desc(b), engine, const_cast<float*>(b.data))},
                          {DNNL_ARG_DST, dnnl::memory(desc(out), engine, const_cast<float*>(out.data))}});
  stream.wait();
  return true;
#else
  (void)a, (void)b, (void)out, (void)alpha, (void)accumulate;
  return false;
#endif
}

std::string OneDnnVersion() {
#ifdef LTGBERT_WITH_DNNL
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
#else
  return "";
#endif
}

namespace {

// True when `x` can take the oneDNN product: inference on it, 2-D.
bool Usable(const torch::Tensor& x) { return FusedLinear(ChoosePath(x)) && x.dim() == 2; }

}  // namespace

torch::Tensor LinearRows(const torch::Tensor& x, const torch::Tensor& weight, int64_t row_begin, int64_t row_count,
                         const torch::Tensor& bias, Epilogue epilogue, const torch::Tensor& multiplier) {
  if (!Usable(x)) return Fallback(x, weight, row_begin, row_count, bias, epilogue, multiplier);
#ifdef LTGBERT_WITH_DNNL
  RECORD_FUNCTION("ltgbert::linear", std::vector<c10::IValue>());
  auto input = x.contiguous();
  auto w = weight.contiguous();
  const int64_t M = input.size(0), K = input.size(1), N = row_count;
  auto out = torch::empty({M, N}, input.options());

  auto src_md = Matrix(M, K, K, 1);
  auto weights_md = Matrix(K, N, 1, K);  // W[rows]^T read in place
  auto dst_md = Matrix(M, N, N, 1);
  auto bias_md = bias.defined() ? Matrix(1, N, N, 1) : dnnl::memory::desc();

  dnnl::post_ops ops;
  if (epilogue == Epilogue::kGeluTanh) AppendEltwise(ops, dnnl::algorithm::eltwise_gelu_tanh);
  if (epilogue == Epilogue::kGeluErf) AppendEltwise(ops, dnnl::algorithm::eltwise_gelu_erf);
  const int multiplier_index = ops.len();
  torch::Tensor factor;
  if (multiplier.defined()) {
    factor = multiplier.contiguous();
    ops.append_binary(dnnl::algorithm::binary_mul, Matrix(M, N, N, 1));
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);

  auto& engine = Engine();
  dnnl::memory weights(weights_md, engine, w.data_ptr<float>() + row_begin * K);
  dnnl::matmul::primitive_desc pd;
  if (PackingEnabled() && !w.is_inference()) {
    // Let oneDNN choose the weights' layout, and reorder them into it once.
    pd = MatmulDesc(src_md, dnnl::memory::desc({K, N}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::any),
                    bias_md, dst_md, attr);
    weights = WeightsFor(w, row_begin, N, weights, pd.weights_desc());
  } else {
    pd = MatmulDesc(src_md, weights_md, bias_md, dst_md, attr);
  }
  dnnl::matmul matmul(pd);  // oneDNN caches the compiled kernel by its description

  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, dnnl::memory(src_md, engine, input.data_ptr())},
      {DNNL_ARG_WEIGHTS, weights},
      {DNNL_ARG_DST, dnnl::memory(dst_md, engine, out.data_ptr())},
  };
  torch::Tensor bias_data;
  if (bias.defined()) {
    bias_data = bias.contiguous();
    args.emplace(DNNL_ARG_BIAS, dnnl::memory(bias_md, engine, bias_data.data_ptr()));
  }
  if (factor.defined()) {
    args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(multiplier_index) | DNNL_ARG_SRC_1,
                 dnnl::memory(Matrix(M, N, N, 1), engine, factor.data_ptr()));
  }
  dnnl::stream stream(engine);
  matmul.execute(stream, args);
  stream.wait();
  return out;
#else
  return Fallback(x, weight, row_begin, row_count, bias, epilogue, multiplier);
#endif
}

namespace {

// A float32 CPU (M, K) x (K, N) product on oneDNN into `out`, each operand
// read through its strides; false where oneDNN cannot.
bool Product(const torch::Tensor& a, const torch::Tensor& b, torch::Tensor& out) {
  return BatchedMatmul({a.data_ptr<float>(), {a.size(0), a.size(1)}, {a.stride(0), a.stride(1)}},
                       {b.data_ptr<float>(), {b.size(0), b.size(1)}, {b.stride(0), b.stride(1)}},
                       {out.data_ptr<float>(), {out.size(0), out.size(1)}, {out.stride(0), out.stride(1)}}, 1.f);
}

// The gradients of y = x W^T (+ b) on oneDNN: dx = dy W, dW = dy^T x, db =
// the column sums of dy.
torch::autograd::tensor_list LinearBackward(torch::autograd::AutogradContext* ctx, const torch::Tensor& grad,
                                            bool has_bias) {
  RECORD_FUNCTION("ltgbert::linear_backward", std::vector<c10::IValue>());
  auto saved = ctx->get_saved_variables();
  const torch::Tensor& x = saved[0];
  const torch::Tensor& weight = saved[1];
  auto dy = grad.contiguous();
  torch::Tensor dx, dw;
  if (ctx->needs_input_grad(0)) {
    dx = torch::empty({dy.size(0), weight.size(1)}, dy.options());
    if (!Product(dy, weight, dx)) dx = torch::mm(dy, weight);
  }
  if (ctx->needs_input_grad(1)) {
    dw = torch::empty(weight.sizes(), dy.options());
    if (!Product(dy.t(), x, dw)) dw = torch::mm(dy.t(), x);
  }
  if (!has_bias) return {dx, dw};
  return {dx, dw, ctx->needs_input_grad(2) ? dy.sum(0) : torch::Tensor()};
}

// y = x W^T + b, forward and backward on oneDNN (grad mode is off inside
// forward, so LinearRows takes its oneDNN path).
class LinearFunction : public torch::autograd::Function<LinearFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias) {
    ctx->save_for_backward({x, weight});
    return LinearRows(x, weight, 0, weight.size(0), bias);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    return LinearBackward(ctx, grads[0], /*has_bias=*/true);
  }
};

// y = x W^T, as LinearFunction without a bias.
class LinearNoBiasFunction : public torch::autograd::Function<LinearNoBiasFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight) {
    ctx->save_for_backward({x, weight});
    return LinearRows(x, weight, 0, weight.size(0), torch::Tensor());
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    return LinearBackward(ctx, grads[0], /*has_bias=*/false);
  }
};

// True when training's product of `x` and `weight` can run on oneDNN.
bool TrainingUsable(Path path, const torch::Tensor& x, const torch::Tensor& weight) {
  return path == Path::kTraining && OneDnnActive() && x.is_cpu() && x.scalar_type() == torch::kFloat32 &&
         weight.scalar_type() == torch::kFloat32 && x.dim() == 2 && x.is_contiguous() && weight.is_contiguous();
}

}  // namespace

torch::Tensor Linear(torch::nn::LinearImpl& linear, const torch::Tensor& x, Path path, Epilogue epilogue) {
  if (FusedLinear(path) && x.dim() == 2)
    return LinearRows(x, linear.weight, 0, linear.weight.size(0), linear.bias, epilogue);
  torch::Tensor y;
  if (!TrainingUsable(path, x, linear.weight)) {
    y = linear.forward(x);
  } else if (linear.bias.defined()) {
    y = LinearFunction::apply(x, linear.weight, linear.bias);
  } else {
    y = LinearNoBiasFunction::apply(x, linear.weight);
  }
  if (epilogue == Epilogue::kGeluTanh) return torch::gelu(y, /*approximate=*/"tanh");
  if (epilogue == Epilogue::kGeluErf) return torch::gelu(y);
  return y;
}

}  // namespace ltgbert::kernels
