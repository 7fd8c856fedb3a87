// y = x @ W.T (+ b) for weights quantized in blocks of 32 input channels (int8 with one fp16 scale a block, or int4
// with an fp16 scale and an fp16 minimum a block) and activations quantized on the fly (int8, one scale per 32
// values of a row): llama.cpp's Q8_0 / Q4_1 x Q8_0 scheme, on AVX-512 VNNI. Built and called by `moe_system/engine/block_quant.py` (ctypes,
// raw pointers, no torch headers); threads come from OpenMP, which resolves to the libgomp torch already loaded.
//
// Weights are the unsigned operand of vpdpbusd (the activations the signed one), with s_a the activation block's
// scale and sum(a) the sum of its int8 values:
//   int8, w = s_w * (u - 128), u = 0..255:    sum(w * x) = s_w * s_a * (sum(u * a) - 128 * sum(a)), the -128 * sum(a)
//                                              seeding the block's int32 sums;
//   int4, w = s_w * u + m_w, u = 0..15:        sum(w * x) = s_w * s_a * sum(u * a) + m_w * s_a * sum(a).
// Each block's sums are scaled in float and accumulated; one horizontal-free store per 16 outputs at the end.
//
// Layouts (k = input channels, a multiple of 64; out = output channels, a multiple of 16; "group" = 16 output rows,
// the 16 lanes of one vpdpbusd; "step" = 4 input channels, the 4 bytes one lane sums):
//   int8 weights: [out / 16, k / 4, 16, 4] uint8 (group, step, row in group, channel in step);
//   int4 weights: [out / 16, k / 8, 64] uint8, byte (g, p, i) holding byte i of step 2p in its low nibble and of
//   step 2p + 1 in its high one;   scales and minima: [out / 16, k / 32, 16] fp16 (as uint16).
// Activations broadcast 4 bytes (one step) to every lane, so one vpdpbusd computes 16 outputs x 4 channels and
// each block of 32 channels needs one int -> float conversion per 16 outputs: no horizontal sums.
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

constexpr int64_t kBlock = 32;  // channels per scale
constexpr int64_t kGroup = 16;  // output rows per vpdpbusd
constexpr int kMaxTile = 6;     // activation rows sharing one pass over the weights

struct Activations {
    const int8_t* q;           // [n, k]: round(x / scale)
    const float* scale;        // [n, k / 32]: max |x| / 127 of each block
    const int32_t* sum;        // [n, k / 32]: sum of each block's values
    int64_t k;
};

// Row `x` [k], times `input_scale` [k] where given -> its int8 values [k], block scales [k / 32] and block sums
// [k / 32].
void quantize_row(const float* x, const float* input_scale, int64_t k, int8_t* q, float* scale, int32_t* sum) {
    for (int64_t b = 0; b < k / kBlock; ++b) {
        __m512 v0 = _mm512_loadu_ps(x + b * kBlock);
        __m512 v1 = _mm512_loadu_ps(x + b * kBlock + 16);
        if (input_scale) {
            v0 = _mm512_mul_ps(v0, _mm512_loadu_ps(input_scale + b * kBlock));
            v1 = _mm512_mul_ps(v1, _mm512_loadu_ps(input_scale + b * kBlock + 16));
        }
        const float peak = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const __m512 inverse = _mm512_set1_ps(peak > 0.0f ? 127.0f / peak : 0.0f);
        const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, inverse));
        const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, inverse));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + b * kBlock), _mm512_cvtsepi32_epi8(i0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + b * kBlock + 16), _mm512_cvtsepi32_epi8(i1));
        scale[b] = peak / 127.0f;
        sum[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    }
}

// y[r0 .. r0 + Rows, 16 outputs of group g] (+ bias).
template <int Bits, int Rows>
inline void group_rows(const Activations& a, int64_t r0, const uint8_t* w, const uint16_t* s, const uint16_t* m,
                       const float* bias, float* y, int64_t out, int64_t g) {
    const int64_t blocks = a.k / kBlock;
    __m512 acc[Rows];
    for (int j = 0; j < Rows; ++j) acc[j] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b) {
        __m512i dot[Rows];
        for (int j = 0; j < Rows; ++j) {
            dot[j] = Bits == 8 ? _mm512_set1_epi32(-128 * a.sum[(r0 + j) * blocks + b]) : _mm512_setzero_si512();
        }
        for (int t = 0; t < 8; t += 2) {  // 8 steps of 4 channels, two at a time
            __m512i w0, w1;
            if constexpr (Bits == 8) {
                w0 = _mm512_loadu_si512(w + (b * 8 + t) * 64);
                w1 = _mm512_loadu_si512(w + (b * 8 + t + 1) * 64);
            } else {
                const __m512i packed = _mm512_loadu_si512(w + (b * 4 + t / 2) * 64);
                const __m512i low = _mm512_set1_epi8(0x0F);
                w0 = _mm512_and_si512(packed, low);
                w1 = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low);
            }
            for (int j = 0; j < Rows; ++j) {
                const int8_t* x = a.q + (r0 + j) * a.k + b * kBlock + t * 4;
                int32_t x0, x1;
                memcpy(&x0, x, 4);
                memcpy(&x1, x + 4, 4);
                dot[j] = _mm512_dpbusd_epi32(dot[j], w0, _mm512_set1_epi32(x0));
                dot[j] = _mm512_dpbusd_epi32(dot[j], w1, _mm512_set1_epi32(x1));
            }
        }
        const __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + b * kGroup)));
        for (int j = 0; j < Rows; ++j) {
            const float xs = a.scale[(r0 + j) * blocks + b];
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[j]), _mm512_mul_ps(ws, _mm512_set1_ps(xs)), acc[j]);
        }
        if constexpr (Bits == 4) {
            const __m512 wm = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + b * kGroup)));
            for (int j = 0; j < Rows; ++j) {
                const int64_t at = (r0 + j) * blocks + b;
                acc[j] = _mm512_fmadd_ps(wm, _mm512_set1_ps(a.scale[at] * static_cast<float>(a.sum[at])), acc[j]);
            }
        }
    }
    const __m512 bv = bias ? _mm512_loadu_ps(bias + g * kGroup) : _mm512_setzero_ps();
    for (int j = 0; j < Rows; ++j) _mm512_storeu_ps(y + (r0 + j) * out + g * kGroup, _mm512_add_ps(acc[j], bv));
}

// The linear a caller binds once (the weights) and per batch (the LoRA term): see `block_quant.LinearSpec`.
struct MoeLinear {
    const uint8_t* weight;      // packed, see the layouts above
    const uint16_t* scales;     // [out / 16, k / 32, 16] fp16
    const uint16_t* minima;     // int4's, like the scales; null for int8
    const float* bias;          // [out] or null
    const float* input_scale;   // [k]: SmoothQuant's 1 / s (the weights hold W * s), or null
    int64_t in_features;
    int64_t out_features;
    int32_t bits;               // 8 or 4
    const void* lora_a;         // [rank, k] per expert, or null: no LoRA term
    int64_t a_stride;           // elements between batch rows' A (0: one A for every row)
    const void* lora_b;         // [rank, out] per expert
    int64_t b_stride;
    int64_t rank;
    float lora_scale;
    int32_t lora_bf16;          // A and B hold bfloat16 (as packages store them), else float32
};

bool valid(const MoeLinear& l) {
    return l.weight && l.scales && l.in_features > 0 && l.in_features % (2 * kBlock) == 0 && l.out_features > 0 &&
           l.out_features % kGroup == 0 && (l.bits == 8 || (l.bits == 4 && l.minima)) &&
           (!l.lora_a || (l.rank > 0 && l.lora_b));
}

// Per-call buffers of `linear_phase`, sized for n rows of the widest input and the largest rank.
struct Scratch {
    std::vector<int8_t> q;
    std::vector<float> scale;
    std::vector<int32_t> sum;
    std::vector<float> h;
    Scratch(int64_t n, int64_t k, int64_t rank)
        : q(static_cast<size_t>(n * k)), scale(static_cast<size_t>(n * k / kBlock)),
          sum(static_cast<size_t>(n * k / kBlock)), h(static_cast<size_t>(std::max<int64_t>(1, n * rank))) {}
};

// The functions below that end in `_phase` hold orphaned `omp for` loops: every thread of the enclosing parallel
// region calls them and shares the work (a barrier ends each loop); outside a region they run on the calling thread.
// So one linear (`moe_block_linear`) and a whole decoder layer (`moe_decoder_layer`, one region for every step)
// run the same code.

// This thread's share [first, last) of `count` iterations of an `omp for schedule(static)` loop, as libgomp deals
// them: count / threads each, one more to each of the first count % threads.
void static_share(int64_t count, int64_t& first, int64_t& last) {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t each = count / threads, more = count % threads;
    first = t * each + std::min(t, more);
    last = first + each + (t < more ? 1 : 0);
}

// The LoRA matrices this thread will read in `low_rank_phase` (its shares of both loops), pulled into its L2 cache
// a few lines at a time while it runs the linear's int8 / int4 products. At batch 8 those products keep the cores
// busy and leave memory idle, while the low-rank loops that follow are short bursts of reads that stall on memory.
// Measured on an int8 SmolLM2 batch-8 decode step (2 cores, medians of 2 runs): 8 different r16 experts cost 7.4 ms
// over the base without it, 6.1 with it paced over the whole product, 6.4 over its first half.
class LowRankPrefetch {
public:
    static constexpr int64_t kRows = 16;  // decode batches; a prefill's rows (compute-bound anyway) fetch nothing

    LowRankPrefetch(const MoeLinear& l, int64_t n, int64_t tokens_per_row) {
        if (!l.lora_a || n > kRows) return;
        const int64_t size = l.lora_bf16 ? 2 : 4, k = l.in_features, out = l.out_features, rank = l.rank;
        const char* a = static_cast<const char*>(l.lora_a);
        const char* b = static_cast<const char*>(l.lora_b);
        int64_t first, last;
        static_share(n * rank, first, last);  // items (r, j): A_b[j], k values
        for (int64_t item = first; item < last;) {
            const int64_t r = item / rank, end = std::min(last, (r + 1) * rank);
            add(a + ((r / tokens_per_row) * l.a_stride + (item % rank) * k) * size, (end - item) * k * size, 0, 1);
            item = end;
        }
        const int64_t chunks = (out + 63) / 64;
        static_share(n * chunks, first, last);  // items (r, chunk): 64 values of each of B_b's rows
        for (int64_t item = first; item < last;) {
            const int64_t r = item / chunks, end = std::min(last, (r + 1) * chunks);
            const int64_t from = (item % chunks) * 64, to = std::min(out, ((end - 1) % chunks + 1) * 64);
            add(b + ((r / tokens_per_row) * l.b_stride + from) * size, (to - from) * size, out * size, rank);
            item = end;
        }
    }

    // Spread the lines over `steps` calls of `next`.
    void pace(int64_t steps) {
        int64_t lines = 0;
        for (int i = 0; i < count_; ++i) lines += runs_[i].segments * ((runs_[i].bytes + 63) / 64);
        per_step_ = (lines + std::max<int64_t>(steps, 1) - 1) / std::max<int64_t>(steps, 1);
    }

    void next() {
        for (int64_t issued = 0; issued < per_step_ && run_ < count_; ++issued) {
            const Run& run = runs_[run_];
            _mm_prefetch(run.start + segment_ * run.stride + offset_, _MM_HINT_T1);
            offset_ += 64;
            if (offset_ >= run.bytes) {
                offset_ = 0;
                if (++segment_ == run.segments) segment_ = 0, ++run_;
            }
        }
    }

private:
    struct Run {  // `segments` stretches of `bytes`, `stride` apart
        const char* start;
        int64_t bytes, stride, segments;
    };

    void add(const char* start, int64_t bytes, int64_t stride, int64_t segments) {
        const bool again = count_ > 0 && runs_[count_ - 1].start == start;  // rows sharing one expert's A or B
        if (!again && count_ < 2 * kRows) runs_[count_++] = Run{start, bytes, stride, segments};
    }

    Run runs_[2 * kRows];
    int count_ = 0, run_ = 0;
    int64_t segment_ = 0, offset_ = 0, per_step_ = 0;
};

template <int Bits>
void gemm_phase(const Activations& a, int64_t n, const MoeLinear& l, float* y, LowRankPrefetch& prefetch) {
    const int64_t group_bytes = kGroup * a.k * Bits / 8;
    const int64_t group_scales = kGroup * a.k / kBlock;
    const int64_t out = l.out_features;
    int64_t first, last;
    static_share(out / kGroup, first, last);
    prefetch.pace(last - first);
#pragma omp for schedule(static)
    for (int64_t g = 0; g < out / kGroup; ++g) {
        prefetch.next();
        const uint8_t* wg = l.weight + g * group_bytes;
        const uint16_t* sg = l.scales + g * group_scales;
        const uint16_t* mg = l.minima ? l.minima + g * group_scales : nullptr;
        int64_t r = 0;
        for (; r + kMaxTile <= n; r += kMaxTile) group_rows<Bits, kMaxTile>(a, r, wg, sg, mg, l.bias, y, out, g);
        switch (n - r) {
            case 5: group_rows<Bits, 5>(a, r, wg, sg, mg, l.bias, y, out, g); break;
            case 4: group_rows<Bits, 4>(a, r, wg, sg, mg, l.bias, y, out, g); break;
            case 3: group_rows<Bits, 3>(a, r, wg, sg, mg, l.bias, y, out, g); break;
            case 2: group_rows<Bits, 2>(a, r, wg, sg, mg, l.bias, y, out, g); break;
            case 1: group_rows<Bits, 1>(a, r, wg, sg, mg, l.bias, y, out, g); break;
            default: break;
        }
    }
}

// 16 values of a LoRA matrix as float32: bfloat16 widens exactly (its 16 bits become a float's high half), so an
// expert kept in the bfloat16 its package stores is applied with exactly its weights while half the bytes are read.
inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load16(const uint16_t* p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

// y[r] += scale * (A_b x[r]) B_b for every row r (b = r / tokens_per_row): a LoRA expert's low-rank term, its
// matrices of type T (float, or uint16_t holding bfloat16). Both halves are split over every thread, even at one
// row: at decode the adapter's 10-20 MB are read from memory once a token, which one core alone reads at about half
// the speed of two. Reading bfloat16 halves those bytes: 8 different r16 experts in an int8 SmolLM2 batch-8 decode
// step read 78 MB instead of 156 (Sapphire Rapids, 2 cores: `moe bench decode`'s mixed ratio 0.83 -> 0.87 from this
// alone, 0.90 with the prefetch below).
template <typename T>
void low_rank_phase(const MoeLinear& l, const float* x, int64_t n, int64_t tokens_per_row, float* y, float* h) {
    const int64_t k = l.in_features, out = l.out_features, rank = l.rank, chunks = (out + 63) / 64;
    const T* lora_a = static_cast<const T*>(l.lora_a);
    const T* lora_b = static_cast<const T*>(l.lora_b);
#pragma omp for schedule(static)
    for (int64_t item = 0; item < n * rank; ++item) {  // h[r, j] = scale * A_b[j] . x[r]
        const int64_t r = item / rank, j = item % rank;
        const T* a_row = lora_a + (r / tokens_per_row) * l.a_stride + j * k;
        const float* xr = x + r * k;
        __m512 even = _mm512_setzero_ps(), odd = _mm512_setzero_ps();  // two chains: k / 32 steps each
        for (int64_t i = 0; i < k; i += 32) {
            even = _mm512_fmadd_ps(load16(a_row + i), _mm512_loadu_ps(xr + i), even);
            odd = _mm512_fmadd_ps(load16(a_row + i + 16), _mm512_loadu_ps(xr + i + 16), odd);
        }
        h[item] = l.lora_scale * _mm512_reduce_add_ps(_mm512_add_ps(even, odd));
    }
    // y[r, o : o + 64] += sum_j h[r, j] B_b[j, o : o + 64]: 64 contiguous values of each of B's rows an item (with
    // 16 float32 values, an r16 expert cost a SmolLM2 int8 decode step 1.34 ms, with 64 1.15 ms: 19.5 MB at 17 GB/s)
#pragma omp for schedule(static)
    for (int64_t item = 0; item < n * chunks; ++item) {
        const int64_t r = item / chunks, o = (item % chunks) * 64, lanes = std::min<int64_t>(4, (out - o) / 16);
        const T* b_rows = lora_b + (r / tokens_per_row) * l.b_stride + o;
        float* yo = y + r * out + o;
        __m512 acc[4];
        for (int64_t i = 0; i < lanes; ++i) acc[i] = _mm512_loadu_ps(yo + 16 * i);
        for (int64_t j = 0; j < rank; ++j) {
            const __m512 weight = _mm512_set1_ps(h[r * rank + j]);
            for (int64_t i = 0; i < lanes; ++i) {
                acc[i] = _mm512_fmadd_ps(weight, load16(b_rows + j * out + 16 * i), acc[i]);
            }
        }
        for (int64_t i = 0; i < lanes; ++i) _mm512_storeu_ps(yo + 16 * i, acc[i]);
    }
}

// y [n, out] = (x [n, k] * input_scale) @ dequantized(w).T + bias (+ the LoRA term).
void linear_phase(const MoeLinear& l, const float* x, int64_t n, int64_t tokens_per_row, float* y, Scratch& s) {
    const int64_t k = l.in_features, blocks = k / kBlock;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < n; ++r) {
        quantize_row(x + r * k, l.input_scale, k, s.q.data() + r * k, s.scale.data() + r * blocks,
                     s.sum.data() + r * blocks);
    }
    const Activations a{s.q.data(), s.scale.data(), s.sum.data(), k};
    LowRankPrefetch prefetch(l, n, tokens_per_row);
    if (l.bits == 8) {
        gemm_phase<8>(a, n, l, y, prefetch);
    } else {
        gemm_phase<4>(a, n, l, y, prefetch);
    }
    if (l.lora_a && l.lora_bf16) {
        low_rank_phase<uint16_t>(l, x, n, tokens_per_row, y, s.h.data());
    } else if (l.lora_a) {
        low_rank_phase<float>(l, x, n, tokens_per_row, y, s.h.data());
    }
}

float dot(const float* a, const float* b, int64_t n) {  // n a multiple of 16
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
    return _mm512_reduce_add_ps(acc);
}

// out = x * rsqrt(mean(x^2) + eps) * weight, over n values (torch's rms_norm, in float)
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
    float total = 0.0f;
    for (int64_t i = 0; i < n; ++i) total += x[i] * x[i];
    const float inverse = 1.0f / std::sqrt(total / static_cast<float>(n) + eps);
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * inverse * weight[i];
}

// Rotary position embedding in place, rotate-half form (transformers' Llama): x [hd], cos / sin [hd].
void rope(float* x, const float* cos, const float* sin, int64_t hd) {
    const int64_t half = hd / 2;
    for (int64_t i = 0; i < half; ++i) {
        const float first = x[i], second = x[i + half];
        x[i] = first * cos[i] - second * sin[i];
        x[i + half] = second * cos[i + half] + first * sin[i + half];
    }
}

}  // namespace

extern "C" {

// Shapes and positions of one decode step (`native_step.StepSpec`).
struct MoeStep {
    int64_t rows;               // n: one new token per row
    int64_t d_model;
    int64_t heads;
    int64_t kv_heads;
    int64_t head_dim;           // a multiple of 16
    float eps;                  // of every RMS norm
    int32_t threads;
    const int64_t* positions;   // [n]: where each row's token goes (its length so far)
    const float* cos;           // [n, head_dim]: the model's rotary tables at those positions
    const float* sin;
};

// One Llama-family decoder layer's weights and KV cache (`native_step.LayerSpec`).
struct MoeLayer {
    const float* input_norm;    // [d_model]
    const float* post_norm;     // [d_model]
    const float* q_norm;        // [head_dim] (Qwen3) or null
    const float* k_norm;
    MoeLinear q, k, v, o, gate, up, down;
    float* keys;                // [n, kv_heads, capacity, head_dim]
    float* values;
    int64_t capacity;
};

// y [n, out] = (x [n, k] * input_scale [k]) @ dequantized(w).T + bias, plus the LoRA term where `linear` has one
// (row r uses expert r / tokens_per_row). Returns 0, or -1 for a shape or bit width this kernel does not take.
int moe_block_linear(const MoeLinear* linear, const float* x, int64_t n, int64_t tokens_per_row, float* y,
                     int32_t threads) {
    if (!valid(*linear) || n <= 0 || tokens_per_row <= 0) return -1;
    Scratch scratch(n, linear->in_features, linear->rank);
    // one thread for small products: waking the second costs more than it saves below ~64k weights a row batch
    const bool small = linear->out_features * linear->in_features * n < 65536 && !linear->lora_a;
#pragma omp parallel num_threads(small ? 1 : std::max(1, static_cast<int>(threads)))
    linear_phase(*linear, x, n, tokens_per_row, y, scratch);
    return 0;
}

// x [n, d_model] <- x after one decoder layer, for one new token per row: RMS norm, q / k / v (+ each row's LoRA
// term), Qwen3's q / k norms, RoPE, the new key and value written to the cache at the row's position, causal
// attention over positions 0..position of the row (grouped-query heads), o, residual; RMS norm, gate and up, SiLU,
// down, residual. The same arithmetic as `NativeBackend.forward`, in one parallel region: at batch 1 the ~25 torch
// operations of a layer cost more than its weights take to read. Returns -1 for shapes it does not take.
int moe_decoder_layer(const MoeLayer* layer, const MoeStep* step, float* x) {
    const int64_t n = step->rows, d = step->d_model, heads = step->heads, kv = step->kv_heads, hd = step->head_dim;
    const MoeLinear* all[] = {&layer->q, &layer->k, &layer->v, &layer->o, &layer->gate, &layer->up, &layer->down};
    int64_t widest = 0, rank = 0, span = 0;
    for (const MoeLinear* l : all) {
        if (!valid(*l)) return -1;
        widest = std::max(widest, l->in_features);
        rank = std::max(rank, l->lora_a ? l->rank : 0);
    }
    const int64_t inter = layer->gate.out_features;
    if (n <= 0 || hd % 16 != 0 || heads % kv != 0 || layer->q.in_features != d || layer->q.out_features != heads * hd ||
        layer->k.in_features != d || layer->k.out_features != kv * hd || layer->v.in_features != d ||
        layer->v.out_features != kv * hd || layer->o.in_features != heads * hd || layer->o.out_features != d ||
        layer->gate.in_features != d || layer->up.in_features != d || layer->up.out_features != inter ||
        layer->down.in_features != inter || layer->down.out_features != d) {
        return -1;
    }
    for (int64_t r = 0; r < n; ++r) {
        if (step->positions[r] < 0 || step->positions[r] >= layer->capacity) return -1;
        span = std::max(span, step->positions[r] + 1);
    }
    Scratch scratch(n, widest, rank);
    std::vector<float> h(n * d), q(n * heads * hd), k(n * kv * hd), v(n * kv * hd), attended(n * heads * hd);
    std::vector<float> delta(n * d), gate(n * inter), up(n * inter), scores(n * heads * span);
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const int64_t group = heads / kv;
#pragma omp parallel num_threads(std::max(1, static_cast<int>(step->threads)))
    {
#pragma omp for schedule(static)
        for (int64_t r = 0; r < n; ++r) rms_norm(x + r * d, layer->input_norm, d, step->eps, h.data() + r * d);
        linear_phase(layer->q, h.data(), n, 1, q.data(), scratch);
        linear_phase(layer->k, h.data(), n, 1, k.data(), scratch);
        linear_phase(layer->v, h.data(), n, 1, v.data(), scratch);
#pragma omp for schedule(static)
        for (int64_t item = 0; item < n * kv; ++item) {  // the new key (normed, rotated) and value into the cache
            const int64_t r = item / kv, head = item % kv;
            float* key = k.data() + item * hd;
            if (layer->k_norm) rms_norm(key, layer->k_norm, hd, step->eps, key);
            rope(key, step->cos + r * hd, step->sin + r * hd, hd);
            const int64_t slot = ((r * kv + head) * layer->capacity + step->positions[r]) * hd;
            memcpy(layer->keys + slot, key, hd * sizeof(float));
            memcpy(layer->values + slot, v.data() + item * hd, hd * sizeof(float));
        }
#pragma omp for schedule(static)
        for (int64_t item = 0; item < n * heads; ++item) {  // softmax(q K^T / sqrt(hd)) V over the row's positions
            const int64_t r = item / heads, head = item % heads, seen = step->positions[r] + 1;
            float* query = q.data() + item * hd;
            if (layer->q_norm) rms_norm(query, layer->q_norm, hd, step->eps, query);
            rope(query, step->cos + r * hd, step->sin + r * hd, hd);
            const float* keys = layer->keys + (r * kv + head / group) * layer->capacity * hd;
            const float* values = layer->values + (r * kv + head / group) * layer->capacity * hd;
            float* score = scores.data() + item * span;
            float peak = -INFINITY;
            for (int64_t j = 0; j < seen; ++j) {
                score[j] = dot(query, keys + j * hd, hd) * scale;
                peak = std::max(peak, score[j]);
            }
            float total = 0.0f;
            for (int64_t j = 0; j < seen; ++j) {
                score[j] = std::exp(score[j] - peak);
                total += score[j];
            }
            float* out = attended.data() + item * hd;
            for (int64_t c = 0; c < hd; c += 16) {
                __m512 acc = _mm512_setzero_ps();
                for (int64_t j = 0; j < seen; ++j) {
                    acc = _mm512_fmadd_ps(_mm512_set1_ps(score[j]), _mm512_loadu_ps(values + j * hd + c), acc);
                }
                _mm512_storeu_ps(out + c, _mm512_mul_ps(acc, _mm512_set1_ps(1.0f / total)));
            }
        }
        linear_phase(layer->o, attended.data(), n, 1, delta.data(), scratch);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < n; ++r) {
            for (int64_t i = 0; i < d; ++i) x[r * d + i] += delta[r * d + i];
            rms_norm(x + r * d, layer->post_norm, d, step->eps, h.data() + r * d);
        }
        linear_phase(layer->gate, h.data(), n, 1, gate.data(), scratch);
        linear_phase(layer->up, h.data(), n, 1, up.data(), scratch);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n * inter; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
        linear_phase(layer->down, gate.data(), n, 1, delta.data(), scratch);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < n; ++r) {
            for (int64_t i = 0; i < d; ++i) x[r * d + i] += delta[r * d + i];
        }
    }
    return 0;
}

}  // extern "C"
