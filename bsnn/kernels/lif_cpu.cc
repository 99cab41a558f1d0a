// CPU kernels for a feed-forward spiking LIF layer fused with the next layer's projection.
//
// The Python side is bsnn/native.py (build, load, register) and bsnn/fused.py (when to use
// them). The math is that of bsnn/neuron.py::lif_step and bsnn/fused.py, written so that the
// membrane is bit for bit XLA's on CPU (XLA contracts beta*U + (1-beta)*(V_rest+I) into one
// fused multiply-add with the beta product inside, and alpha*I + drive likewise; this file is
// compiled with -ffp-contract=off so that only the std::fma calls below fuse). Not always:
// in bsnn/fused.py's unrolled loop, with a per-step drive or a synaptic current, XLA puts
// the (1-beta) product inside instead in steps 2-5 of each unrolled group (bsnn/native.py).
//
//   I[t] = alpha I[t-1] + d[t]               (I[t] = d[t] when alpha == 0)
//   U    = V[t-1] - r S[t-1]                 (soft reset, r = V_th - V_reset)
//   U    = V[t-1] - (V[t-1] - V_reset) S[t-1] (hard reset)
//   V[t] = fma(beta, U, (1 - beta) (V_rest + I[t]))
//   S[t] = V[t] >= V_th
//   y[t] = S[t] @ W                          [T, B, M], the next layer's drive
//   counts = sum_t S[t]                      [B, N]
//
// Every batch row is independent, so rows are split over threads. The forward kernel keeps
// nothing for the reverse pass: the backward kernel recomputes a row's membrane trace into a
// [T, N] buffer that stays in cache, then runs the surrogate-gradient adjoint of
// bsnn/layer_vjp.py backwards in time:
//
//   g_s[t]  = g_y[t] @ W^T (+ g_counts)       psi[t] = H'((V[t] - V_th) / r) / r
//   gV[t]   = beta gV[t+1] + psi[t] g_s[t]
//   gI[t]   = (1 - beta) gV[t] + alpha gI[t+1]
//   g_d[t]  = gI[t]   (a constant drive gets sum_t gI[t])
//   g_W    += S[t]^T g_y[t]
//
// Host independence: every operation here is an IEEE one with one rounding (+, -, *, /,
// sqrt, std::fma, which is exact-then-rounded whether the CPU has FMA or libm emulates it),
// nothing calls libm's exp (portable_exp below), and nothing is reordered by the vector width
// (no -ffast-math), so the results are the same bits at every -march level and on every host
// (tests/test_host_independence.py builds two levels and compares). Rows are split into
// chunks by B alone, so the thread count does not matter either.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>
#include <thread>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

// exp(x) from +, -, * and exact power-of-two scaling only: the same bits on every host and
// -march level, unlike libm's exp (glibc 2.36 picks an FMA or a plain variant by CPU features;
// they differ in the last bit for 2 floats in [-104, 89], 7 in 10^4 random doubles in [-50, 50]),
// and vectorizable (branch-free, given -fno-trapping-math), where a libm call is not. Within
// 1.2 ulp of exp (measured: every 7th float with a normal result, 2e7 random doubles in
// [-700, 700]); overflows to +inf, underflows through the subnormals to 0, NaN in NaN out.
template <typename F>
inline F portable_exp(F x) {
  constexpr bool f32 = std::is_same_v<F, float>;
  using I = std::conditional_t<f32, int32_t, int64_t>;
  constexpr int kMant = f32 ? 23 : 52;
  constexpr I kBias = f32 ? 127 : 1023;
  const F shifter = F(1.5) * F(I(1) << kMant);        // (y + shifter) - shifter: y rounded to an integer
  auto bits = [](F v) { I b; std::memcpy(&b, &v, sizeof(F)); return b; };
  auto pow2 = [&](F k) {                              // 2^k for an integer-valued k in the normal range
    const I b = (bits(k + shifter) - bits(shifter) + kBias) << kMant;
    F v;
    std::memcpy(&v, &b, sizeof(F));
    return v;
  };
  const F lo = f32 ? F(-104) : F(-746), hi = f32 ? F(89) : F(710);   // exp(x) rounds to 0 / overflows beyond
  const F ln2_hi = f32 ? F(0.693145751953125) : F(0.6931471803691238);   // k ln2_hi is exact
  const F ln2_lo = f32 ? F(1.428606765330187e-06) : F(1.9082149292705877e-10);
  const F xc = std::min(std::max(x, lo), hi);         // NaN stays NaN
  const F k = (xc * F(1.4426950408889634) + shifter) - shifter;
  const F r = (xc - k * ln2_hi) - k * ln2_lo;         // |r| <= ln2 / 2 (a little more at the ends)
  F p;
  if constexpr (f32) {   // Taylor to r^7: truncation below 1e-8 relative
    p = F(1) + r * (F(1) + r * (F(1.0 / 2) + r * (F(1.0 / 6) + r * (F(1.0 / 24) + r * (F(1.0 / 120) +
        r * (F(1.0 / 720) + r * F(1.0 / 5040)))))));
  } else {               // to r^13: below 1e-17
    p = F(1.0 / 6227020800);
    for (F c : {1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720,
                1.0 / 120, 1.0 / 24, 1.0 / 6, 1.0 / 2, 1.0, 1.0})
      p = p * r + F(c);
  }
  const F k1 = (k * F(0.5) + shifter) - shifter, k2 = k - k1;   // p 2^k = (p 2^k1) 2^k2: exact, then one rounding
  const F y = p * pow2(k1) * pow2(k2);
  const I keep = -static_cast<I>(!(x < lo));          // all ones, or 0 where x < lo: a mask, not a branch
  const I out = bits(y) & keep;
  F v;
  std::memcpy(&v, &out, sizeof(F));
  return v;
}

// The surrogate pseudo-derivatives H'(x) of bsnn/surrogates.py (braintools classes).
enum Surrogate : int64_t { kArctan = 0, kSigmoid = 1, kReluGrad = 2, kInvSquare = 3, kGaussian = 4, kSlayer = 5 };

template <typename F, int64_t KIND>
inline F surrogate_grad(F x, F a, F b) {
  if constexpr (KIND == kArctan) { F z = F(M_PI / 2) * a * x; return a / F(2) / (F(1) + z * z); }
  if constexpr (KIND == kSigmoid) { F s = F(1) / (F(1) + portable_exp(-a * x)); return a * s * (F(1) - s); }
  if constexpr (KIND == kReluGrad) return std::max(a * (b - std::abs(x)), F(0));
  if constexpr (KIND == kInvSquare) { F z = a * std::abs(x) + F(1); return F(1) / (z * z); }
  if constexpr (KIND == kGaussian) return a * portable_exp(-x * x / (F(2) * b * b)) / (std::sqrt(F(2 * M_PI)) * b);
  if constexpr (KIND == kSlayer) return portable_exp(-a * std::abs(x));
  return F(0);
}

template <typename F>
struct Layer {
  int64_t T, B, N, M, N8;     // N8: N rounded up to a multiple of 8 (the backward's row buffers)
  bool constant, soft;
  F alpha, beta, omb, vth, vreset, vrest, r;
};

// The most next-layer units the kernels take (bsnn/native.py checks it): y and the g_s product
// run per row and step, which pays only while the next layer is narrow (a read-out).
constexpr int64_t kMaxNext = 64;

// The positions of the set bits of every byte, for branch-free compaction.
struct BitTable {
  alignas(32) int32_t pos[256][8];
  uint8_t count[256];
  constexpr BitTable() : pos(), count() {
    for (int mask = 0; mask < 256; ++mask) {
      int k = 0;
      for (int bit = 0; bit < 8; ++bit)
        if (mask & (1 << bit)) pos[mask][k++] = bit;
      count[mask] = static_cast<uint8_t>(k);
    }
  }
};
constexpr BitTable kBits{};

// Writes the n < count with v[n] >= vth (the units that spike), in increasing order, to idx
// (room for count + 8 entries); returns how many. Branch-free: spikes are rare and random, so
// a branch per unit or per 8 units would mostly mispredict.
template <typename F>
inline int64_t spiking_units(const F* __restrict v, int64_t count, F vth, int32_t* __restrict idx) {
  int64_t k = 0, n = 0;
  for (; n + 8 <= count; n += 8) {
    unsigned mask = 0;
#if defined(__AVX2__)
    if constexpr (sizeof(F) == 4) {
      mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(v + n), _mm256_set1_ps(vth), _CMP_GE_OQ)));
    } else {
      const __m256d th = _mm256_set1_pd(vth);
      mask = static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(v + n), th, _CMP_GE_OQ))) |
             (static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(v + n + 4), th, _CMP_GE_OQ))) << 4);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(idx + k),
                        _mm256_add_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(kBits.pos[mask])),
                                         _mm256_set1_epi32(static_cast<int32_t>(n))));
#else
    for (int j = 0; j < 8; ++j) mask |= static_cast<unsigned>(v[n + j] >= vth) << j;
    for (int j = 0; j < 8; ++j) idx[k + j] = static_cast<int32_t>(n) + kBits.pos[mask][j];
#endif
    k += kBits.count[mask];
  }
  for (; n < count; ++n) {
    idx[k] = static_cast<int32_t>(n);
    k += v[n] >= vth;
  }
  return k;
}

// The width of the padded rows: M rounded up to 8, 16, 32 or 64.
inline int64_t padded(int64_t m) { return m <= 8 ? 8 : m <= 16 ? 16 : m <= 32 ? 32 : 64; }

// Calls fn(std::integral_constant<int64_t, MP>) for a padded width mp, so that MP-wide loops
// are whole vector operations known at compile time.
template <typename Fn>
void with_width(int64_t mp, Fn fn) {
  switch (mp) {
    case 8: return fn(std::integral_constant<int64_t, 8>{});
    case 16: return fn(std::integral_constant<int64_t, 16>{});
    case 32: return fn(std::integral_constant<int64_t, 32>{});
    default: return fn(std::integral_constant<int64_t, 64>{});
  }
}

// acc[m] += rows[n * MP + m] for every spiking unit n in units[0..k): a sum of zero-padded
// MP-wide rows (y[t] = S[t] @ W of one row and step).
template <typename F>
void add_spiking_rows(int64_t mp, const int32_t* __restrict units, int64_t k, const F* __restrict rows,
                      F* __restrict acc) {
  with_width(mp, [&](auto width) {
    constexpr int64_t MP = decltype(width)::value;
    for (int64_t j = 0; j < k; ++j) {
      const F* __restrict row = rows + static_cast<int64_t>(units[j]) * MP;
      for (int64_t m = 0; m < MP; ++m) acc[m] += row[m];
    }
  });
}

// g[n * MP + m] += gy[m] for every spiking unit n in units[0..k): the outer product S^T g_y of
// one row and step, into zero-padded MP-wide rows.
template <typename F>
void outer_spiking(int64_t mp, const int32_t* __restrict units, int64_t k, const F* __restrict gy, F* __restrict g) {
  with_width(mp, [&](auto width) {
    constexpr int64_t MP = decltype(width)::value;
    for (int64_t j = 0; j < k; ++j) {
      F* __restrict row = g + static_cast<int64_t>(units[j]) * MP;
      for (int64_t m = 0; m < MP; ++m) row[m] += gy[m];
    }
  });
}

// W [N, M] as zero-padded rows [N, MP].
template <typename F>
std::vector<F> pad_rows(const F* w, int64_t n_rows, int64_t m, int64_t mp) {
  std::vector<F> out(n_rows * mp, F(0));
  for (int64_t n = 0; n < n_rows; ++n) std::copy(w + n * m, w + n * m + m, out.data() + n * mp);
  return out;
}

// One row's forward pass over all steps. Writes the membrane of step t to vbuf[t * N8] when
// vbuf is given, the next layer's drive to y and the spike counts to cnt when they are given
// (w: the next layer's weights as zero-padded rows, pad_rows).
template <typename F, bool SOFT, bool ALPHA>
void forward_row(const Layer<F>& L, const F* __restrict drive, int64_t b, const F* __restrict w,
                 F* __restrict I, F* __restrict V, F* __restrict S, F* __restrict vbuf, F* __restrict y,
                 F* __restrict cnt, int32_t* __restrict units) {
  const int64_t N = L.N, M = L.M;
  const F alpha = L.alpha, beta = L.beta, omb = L.omb, vth = L.vth, vreset = L.vreset, vrest = L.vrest, r = L.r;
  std::fill(I, I + N, F(0));
  std::fill(V, V + N, F(0));
  std::fill(S, S + N, F(0));
  if (cnt) std::fill(cnt, cnt + N, F(0));
  for (int64_t t = 0; t < L.T; ++t) {
    const F* __restrict d = L.constant ? drive + b * N : drive + (t * L.B + b) * N;
#pragma GCC ivdep
    for (int64_t n = 0; n < N; ++n) {
      F i = ALPHA ? std::fma(alpha, I[n], d[n]) : d[n];
      F u = SOFT ? V[n] - r * S[n] : V[n] - (V[n] - vreset) * S[n];
      F v = std::fma(beta, u, omb * (vrest + i));
      I[n] = i;
      V[n] = v;
      S[n] = v >= vth ? F(1) : F(0);
    }
    if (vbuf) std::copy(V, V + N, vbuf + t * L.N8);
    if (cnt) {
#pragma GCC ivdep
      for (int64_t n = 0; n < N; ++n) cnt[n] += S[n];
    }
    if (y) {                    // y[t] = S[t] @ W, summed over the spiking units only (w padded)
      alignas(32) F acc[kMaxNext] = {};
      const int64_t k = spiking_units(V, N, vth, units);
      add_spiking_rows(padded(M), units, k, w, acc);
      std::copy(acc, acc + M, y + (t * L.B + b) * M);
    }
  }
}

template <typename F>
void forward_row_any(const Layer<F>& L, const F* drive, int64_t b, const F* w, F* I, F* V, F* S, F* vbuf,
                     F* y, F* cnt, int32_t* units) {
  const bool has_alpha = L.alpha != F(0);
  if (L.soft && has_alpha) forward_row<F, true, true>(L, drive, b, w, I, V, S, vbuf, y, cnt, units);
  else if (L.soft) forward_row<F, true, false>(L, drive, b, w, I, V, S, vbuf, y, cnt, units);
  else if (has_alpha) forward_row<F, false, true>(L, drive, b, w, I, V, S, vbuf, y, cnt, units);
  else forward_row<F, false, false>(L, drive, b, w, I, V, S, vbuf, y, cnt, units);
}

// Rows are cut into at most kMaxChunks fixed chunks (a function of B only, so that per-chunk
// partial sums, and the results, do not depend on the number of threads). work(chunk, b0, b1)
// runs once per chunk, on the calling thread and on XLA's intra-op thread pool; the caller
// takes chunks too and returns when all are done.
constexpr int64_t kMaxChunks = 8;

inline int64_t chunk_rows(int64_t rows) { return std::max<int64_t>(1, (rows + kMaxChunks - 1) / kMaxChunks); }
inline int64_t num_chunks(int64_t rows) { return (rows + chunk_rows(rows) - 1) / chunk_rows(rows); }

template <typename Work>
void parallel_chunks(ffi::ThreadPool& pool, int64_t rows, Work work) {
  struct Shared {
    std::atomic<int64_t> next{0}, done{0};
  };
  const int64_t chunks = num_chunks(rows), size = chunk_rows(rows);
  auto shared = std::make_shared<Shared>();
  // A copy that starts after all chunks are taken returns at once, without touching `work`.
  auto run = [shared, chunks, size, rows, work_ptr = &work]() {
    for (int64_t c; (c = shared->next.fetch_add(1)) < chunks;) {
      (*work_ptr)(c, c * size, std::min(rows, (c + 1) * size));
      shared->done.fetch_add(1, std::memory_order_release);
    }
  };
  const int64_t helpers = std::min<int64_t>(pool.num_threads(), chunks) - 1;
  for (int64_t k = 0; k < helpers; ++k) {
    auto copy = run;
    pool.Schedule(std::move(copy));
  }
  run();
  while (shared->done.load(std::memory_order_acquire) < chunks) std::this_thread::yield();
}

template <typename F>
Layer<F> make_layer(int64_t T, int64_t B, int64_t N, int64_t M, bool constant, bool soft, double alpha,
                    double beta, double omb, double vth, double vreset, double vrest, double r) {
  return Layer<F>{T, B, N, M, (N + 7) / 8 * 8, constant, soft, F(alpha), F(beta), F(omb), F(vth), F(vreset), F(vrest), F(r)};
}

template <ffi::DataType DT>
ffi::Error FusedForward(ffi::ThreadPool pool, ffi::AnyBuffer drive_any, ffi::Buffer<DT> w, ffi::ResultBuffer<DT> y,
                        ffi::ResultBuffer<DT> counts, bool constant, bool soft, double alpha, double beta,
                        double omb, double vth, double vreset, double vrest, double r) {
  using F = ffi::NativeType<DT>;
  auto yd = y->dimensions();
  const int64_t T = yd[0], B = yd[1], M = yd[2], N = w.dimensions()[0];
  const Layer<F> L = make_layer<F>(T, B, N, M, constant, soft, alpha, beta, omb, vth, vreset, vrest, r);
  const F* drive = reinterpret_cast<const F*>(drive_any.untyped_data());
  const std::vector<F> wp = pad_rows(w.typed_data(), N, M, padded(M));
  parallel_chunks(pool, B, [&](int64_t, int64_t b0, int64_t b1) {
    std::vector<F> state(3 * N);
    std::vector<int32_t> units(N + 8);
    for (int64_t b = b0; b < b1; ++b)
      forward_row_any(L, drive, b, wp.data(), state.data(), state.data() + N, state.data() + 2 * N,
                      static_cast<F*>(nullptr), y->typed_data(), counts->typed_data() + b * N, units.data());
  });
  return ffi::Error::Success();
}

// g_s[n] = gc[n] + sum_m gy[m] wt[m * N8 + n] for one row and step (wt: W^T zero-padded to
// [MP, N8], gy zero-padded to MP): the m loop is unrolled and the n loop vectorized.
template <typename F, int64_t MP>
void spike_cotangent(int64_t N8, const F* __restrict gy, const F* __restrict wt, const F* __restrict gc,
                     F* __restrict gs) {
#pragma GCC ivdep
  for (int64_t n = 0; n < N8; ++n) {
    F acc = gc[n];
    for (int64_t m = 0; m < MP; ++m) acc = std::fma(gy[m], wt[m * N8 + n], acc);
    gs[n] = acc;
  }
}

template <typename F, int64_t... Ms>
void spike_cotangent_dispatch(int64_t m, int64_t N8, const F* gy, const F* wt, const F* gc, F* gs,
                              std::integer_sequence<int64_t, Ms...>) {
  // The first instantiated width >= m (rows past m are zero): exact for m <= 16.
  bool done = false;
  ((!done && m <= Ms ? (spike_cotangent<F, Ms>(N8, gy, wt, gc, gs), done = true) : false), ...);
}

template <typename F>
void spike_cotangent_any(int64_t m, int64_t N8, const F* gy, const F* wt, const F* gc, F* gs) {
  spike_cotangent_dispatch<F>(m, N8, gy, wt, gc, gs,
                              std::integer_sequence<int64_t, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 32, 64>{});
}

// One reverse step of one row, given its spike cotangent g_s:
//   psi = H'((V - V_th) / r) / r,  gV = beta gV + psi g_s,  gI = (1 - beta) gV + alpha gI,
//   (1/r computed once: psi agrees with bsnn.layer_vjp.surrogate_slope to rounding)
//   acc = gI  (acc += gI for a constant drive)
template <typename F, int64_t KIND, bool ALPHA, bool CONSTANT>
void reverse_step(const Layer<F>& L, F a, F c, const F* __restrict v, const F* __restrict gs, F* __restrict gv,
                  F* __restrict gi, F* __restrict acc) {
  const int64_t N8 = L.N8;
  const F beta = L.beta, omb = L.omb, alpha = L.alpha, vth = L.vth, inv_r = F(1) / L.r;
#pragma GCC ivdep
  for (int64_t n = 0; n < N8; ++n) {
    const F psi = surrogate_grad<F, KIND>((v[n] - vth) * inv_r, a, c) * inv_r;
    const F g_volt = beta * gv[n] + psi * gs[n];
    const F g_cur = ALPHA ? omb * g_volt + alpha * gi[n] : omb * g_volt;
    gv[n] = g_volt;
    gi[n] = g_cur;
    if (CONSTANT) acc[n] += g_cur;
    else acc[n] = g_cur;
  }
}

template <typename F>
using ReverseStep = void (*)(const Layer<F>&, F, F, const F*, const F*, F*, F*, F*);

template <typename F, int64_t KIND>
ReverseStep<F> reverse_step_for(bool alpha, bool constant) {
  if (alpha) return constant ? &reverse_step<F, KIND, true, true> : &reverse_step<F, KIND, true, false>;
  return constant ? &reverse_step<F, KIND, false, true> : &reverse_step<F, KIND, false, false>;
}

template <typename F>
ReverseStep<F> reverse_step_for(int64_t kind, bool alpha, bool constant) {
  switch (kind) {
    case kArctan: return reverse_step_for<F, kArctan>(alpha, constant);
    case kSigmoid: return reverse_step_for<F, kSigmoid>(alpha, constant);
    case kReluGrad: return reverse_step_for<F, kReluGrad>(alpha, constant);
    case kInvSquare: return reverse_step_for<F, kInvSquare>(alpha, constant);
    case kGaussian: return reverse_step_for<F, kGaussian>(alpha, constant);
    default: return reverse_step_for<F, kSlayer>(alpha, constant);
  }
}

template <ffi::DataType DT>
ffi::Error FusedBackward(ffi::ThreadPool pool, ffi::AnyBuffer drive_any, ffi::Buffer<DT> w, ffi::Buffer<DT> g_y,
                         ffi::Buffer<DT> g_counts, ffi::ResultBuffer<DT> g_drive, ffi::ResultBuffer<DT> g_w,
                         bool constant, bool soft, double alpha, double beta, double omb, double vth, double vreset,
                         double vrest, double r, int64_t surrogate, double sg_a, double sg_b, bool has_counts) {
  using F = ffi::NativeType<DT>;
  auto gd = g_y.dimensions();
  const int64_t T = gd[0], B = gd[1], M = gd[2], N = w.dimensions()[0];
  const Layer<F> L = make_layer<F>(T, B, N, M, constant, soft, alpha, beta, omb, vth, vreset, vrest, r);
  const F* drive = reinterpret_cast<const F*>(drive_any.untyped_data());
  const F* W = w.typed_data();
  const int64_t N8 = L.N8, MP = padded(M);
  std::vector<F> wt(MP * N8, F(0));              // W^T, so that g_s = g_y @ W^T runs along n
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m) wt[m * N8 + n] = W[n * M + m];
  const ReverseStep<F> step = reverse_step_for<F>(surrogate, L.alpha != F(0), constant);
  std::vector<std::vector<F>> partial(num_chunks(B));   // g_W [N, MP] of each chunk of rows, summed in chunk order
  const F a = F(sg_a), c = F(sg_b);
  parallel_chunks(pool, B, [&](int64_t chunk, int64_t b0, int64_t b1) {
    std::vector<F> state(3 * N), vbuf(T * N8, F(0)), gv(N8), gi(N8), gc(N8, F(0)), gs(N8), acc(N8);
    std::vector<int32_t> units(N + 8);
    alignas(32) F gyp[kMaxNext] = {};
    std::vector<F>& gw = partial[chunk];
    gw.assign(N * MP, F(0));
    for (int64_t b = b0; b < b1; ++b) {
      forward_row_any(L, drive, b, W, state.data(), state.data() + N, state.data() + 2 * N, vbuf.data(),
                      static_cast<F*>(nullptr), static_cast<F*>(nullptr), units.data());
      std::fill(gv.begin(), gv.end(), F(0));
      std::fill(gi.begin(), gi.end(), F(0));
      std::fill(acc.begin(), acc.end(), F(0));
      if (has_counts) std::copy(g_counts.typed_data() + b * N, g_counts.typed_data() + (b + 1) * N, gc.begin());
      for (int64_t t = T - 1; t >= 0; --t) {
        const F* gyt = g_y.typed_data() + (t * B + b) * M;
        const F* v = vbuf.data() + t * N8;
        std::copy(gyt, gyt + M, gyp);
        spike_cotangent_any(M, N8, gyp, wt.data(), gc.data(), gs.data());
        step(L, a, c, v, gs.data(), gv.data(), gi.data(), acc.data());
        if (!constant) std::copy(acc.begin(), acc.begin() + N, g_drive->typed_data() + (t * B + b) * N);
        const int64_t k = spiking_units(v, N, L.vth, units.data());
        outer_spiking(MP, units.data(), k, gyp, gw.data());
      }
      if (constant) std::copy(acc.begin(), acc.begin() + N, g_drive->typed_data() + b * N);
    }
  });
  F* out = g_w->typed_data();
  std::fill(out, out + N * M, F(0));
  for (const auto& p : partial)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t m = 0; m < M; ++m) out[n * M + m] += p[n * MP + m];
  return ffi::Error::Success();
}

}  // namespace

#define BSNN_LAYER_ATTRS                                                                              \
  .Attr<bool>("constant").Attr<bool>("soft").Attr<double>("alpha").Attr<double>("beta")               \
      .Attr<double>("omb").Attr<double>("vth").Attr<double>("vreset").Attr<double>("vrest").Attr<double>("r")

#define BSNN_FORWARD(NAME, DT)                                                                        \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, FusedForward<DT>,                                               \
                                ffi::Ffi::Bind()                                                      \
                                    .Ctx<ffi::ThreadPool>()                                           \
                                    .Arg<ffi::AnyBuffer>()                                            \
                                    .Arg<ffi::Buffer<DT>>()                                           \
                                    .Ret<ffi::Buffer<DT>>()                                           \
                                    .Ret<ffi::Buffer<DT>>() BSNN_LAYER_ATTRS);

#define BSNN_BACKWARD(NAME, DT)                                                                       \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(NAME, FusedBackward<DT>,                                              \
                                ffi::Ffi::Bind()                                                      \
                                    .Ctx<ffi::ThreadPool>()                                           \
                                    .Arg<ffi::AnyBuffer>()                                            \
                                    .Arg<ffi::Buffer<DT>>()                                           \
                                    .Arg<ffi::Buffer<DT>>()                                           \
                                    .Arg<ffi::Buffer<DT>>()                                           \
                                    .Ret<ffi::Buffer<DT>>()                                           \
                                    .Ret<ffi::Buffer<DT>>() BSNN_LAYER_ATTRS.Attr<int64_t>("surrogate") \
                                    .Attr<double>("sg_a").Attr<double>("sg_b").Attr<bool>("has_counts"));

BSNN_FORWARD(BsnnFusedForwardF32, ffi::DataType::F32)
BSNN_FORWARD(BsnnFusedForwardF64, ffi::DataType::F64)
BSNN_BACKWARD(BsnnFusedBackwardF32, ffi::DataType::F32)
BSNN_BACKWARD(BsnnFusedBackwardF64, ffi::DataType::F64)
