// Launcher of the split-KV decode attention kernels: picks the dtype and the GQA group size (the
// template arguments), launches the split kernel on a (splits, Hkv, N) grid and, when the
// sequence is split, the combine kernel on one CTA per (row, query head).
#include "ops/decode_attention/decode_attention_kernel.cuh"

namespace halo::ops {

namespace {

template <typename T>
bool shape_ok(int64_t D) {
  constexpr int64_t vec = 16 / sizeof(T);
  if (D % vec != 0 || D > kernels::kDecodeMaxD) return false;
  const int64_t lanes = D / vec;
  return lanes >= 1 && lanes <= 32 && (lanes & (lanes - 1)) == 0;
}

template <typename T, int G>
int launch_group(const DecodeAttentionParams& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(p.splits), static_cast<unsigned>(p.Hkv),
                  static_cast<unsigned>(p.N));
  kernels::decode_attention_split_kernel<T, G><<<grid, kernels::kDecodeWarps * 32, 0, stream>>>(p);
  if (p.splits > 1) {
    kernels::decode_attention_combine_kernel<T>
        <<<static_cast<unsigned>(p.N * p.Hq), 128, 0, stream>>>(p);
  }
  return static_cast<int>(cudaGetLastError());
}

template <typename T>
int launch_typed(const DecodeAttentionParams& p, cudaStream_t stream) {
  if (!shape_ok<T>(p.D)) return static_cast<int>(cudaErrorInvalidValue);
  switch (p.Hq / p.Hkv) {
    case 1:
      return launch_group<T, 1>(p, stream);
    case 2:
      return launch_group<T, 2>(p, stream);
    case 4:
      return launch_group<T, 4>(p, stream);
    case 8:
      return launch_group<T, 8>(p, stream);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

}  // namespace

bool decode_attention_cuda_supports(DecodeAttentionDtype dtype, int64_t D, int64_t group) {
  if (group != 1 && group != 2 && group != 4 && group != 8) return false;
  switch (dtype) {
    case DecodeAttentionDtype::kFloat32:
      return shape_ok<float>(D);
    case DecodeAttentionDtype::kBFloat16:
      return shape_ok<__nv_bfloat16>(D);
    case DecodeAttentionDtype::kFloat16:
      return shape_ok<__half>(D);
  }
  return false;
}

int decode_attention_cuda(const DecodeAttentionParams& p, void* stream) {
  if (p.N == 0) return 0;
  auto s = static_cast<cudaStream_t>(stream);
  switch (p.dtype) {
    case DecodeAttentionDtype::kFloat32:
      return launch_typed<float>(p, s);
    case DecodeAttentionDtype::kBFloat16:
      return launch_typed<__nv_bfloat16>(p, s);
    case DecodeAttentionDtype::kFloat16:
      return launch_typed<__half>(p, s);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

int64_t decode_attention_keys_per_iteration(DecodeAttentionDtype dtype, int64_t D) {
  switch (dtype) {
    case DecodeAttentionDtype::kFloat32:
      return kernels::decode_keys_per_iteration<float>(D);
    case DecodeAttentionDtype::kBFloat16:
      return kernels::decode_keys_per_iteration<__nv_bfloat16>(D);
    case DecodeAttentionDtype::kFloat16:
      return kernels::decode_keys_per_iteration<__half>(D);
  }
  return 1;
}

int decode_attention_device_sms() {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return 0;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) return 0;
  return sms;
}

}  // namespace halo::ops
