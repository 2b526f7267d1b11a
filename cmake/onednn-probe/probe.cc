// Built and run before the addon is configured, by both builds (CMakeLists.txt
// and scripts/find-libtorch.mjs for node-gyp): oneDNN is used only when this
// compiles, links and runs. It creates a CPU engine and runs one small matmul,
// the primitive the addon uses, and prints the library's version.
#include <oneapi/dnnl/dnnl.hpp>

#include <cstdio>

int main() {
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const dnnl::memory::dims dims = {2, 2};
  const dnnl::memory::desc desc(dims, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab);
  float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1}, c[4] = {0, 0, 0, 0};
  dnnl::memory ma(desc, engine, a), mb(desc, engine, b), mc(desc, engine, c);
#if DNNL_VERSION_MAJOR >= 3
  dnnl::matmul::primitive_desc pd(engine, desc, desc, desc);
#else
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(desc, desc, desc), engine);
#endif
  dnnl::matmul(pd).execute(stream, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
  stream.wait();
  if (c[0] != 1 || c[1] != 2 || c[2] != 3 || c[3] != 4) {
    std::fprintf(stderr, "oneDNN's matmul gave a wrong result\n");
    return 1;
  }
  const dnnl_version_t* v = dnnl_version();
  std::printf("%d.%d.%d\n", v->major, v->minor, v->patch);
  return 0;
}
