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

template <int Bits>
void gemm(const Activations& a, int64_t n, const uint8_t* w, const uint16_t* scales, const uint16_t* minima,
          int64_t out, const float* bias, float* y, int threads) {
    const int64_t group_bytes = kGroup * a.k * Bits / 8;
    const int64_t group_scales = kGroup * a.k / kBlock;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t g = 0; g < out / kGroup; ++g) {
        const uint8_t* wg = w + g * group_bytes;
        const uint16_t* sg = scales + g * group_scales;
        const uint16_t* mg = minima ? minima + g * group_scales : nullptr;
        int64_t r = 0;
        for (; r + kMaxTile <= n; r += kMaxTile) group_rows<Bits, kMaxTile>(a, r, wg, sg, mg, bias, y, out, g);
        switch (n - r) {
            case 5: group_rows<Bits, 5>(a, r, wg, sg, mg, bias, y, out, g); break;
            case 4: group_rows<Bits, 4>(a, r, wg, sg, mg, bias, y, out, g); break;
            case 3: group_rows<Bits, 3>(a, r, wg, sg, mg, bias, y, out, g); break;
            case 2: group_rows<Bits, 2>(a, r, wg, sg, mg, bias, y, out, g); break;
            case 1: group_rows<Bits, 1>(a, r, wg, sg, mg, bias, y, out, g); break;
            default: break;
        }
    }
}

// y[r] += scale * (A_b x[r]) B_b for every row r (b = r / tokens_per_row): a LoRA expert's low-rank term, with
// A_b [rank, k] and B_b [rank, out] row-major at lora_a + b * a_stride and lora_b + b * b_stride (stride 0: one
// expert for every row).
void add_low_rank(const float* x, int64_t n, int64_t k, const float* lora_a, int64_t a_stride, const float* lora_b,
                  int64_t b_stride, int64_t rank, int64_t tokens_per_row, float lora_scale, float* y, int64_t out,
                  int threads) {
    // Both halves are split over every thread, even at one row: at decode the adapter's 10-20 MB are read from
    // memory once a token, which one core alone reads at about half the speed of two.
    std::vector<float> h(static_cast<size_t>(n * rank));  // [n, rank]: scale * A_b x[r]
    const int64_t chunks = out / 16;
#pragma omp parallel num_threads(threads)
    {
#pragma omp for schedule(static)
        for (int64_t item = 0; item < n * rank; ++item) {
            const int64_t r = item / rank, j = item % rank;
            const float* a_row = lora_a + (r / tokens_per_row) * a_stride + j * k;
            const float* xr = x + r * k;
            __m512 even = _mm512_setzero_ps(), odd = _mm512_setzero_ps();  // two chains: k / 32 steps each
            for (int64_t i = 0; i < k; i += 32) {
                even = _mm512_fmadd_ps(_mm512_loadu_ps(a_row + i), _mm512_loadu_ps(xr + i), even);
                odd = _mm512_fmadd_ps(_mm512_loadu_ps(a_row + i + 16), _mm512_loadu_ps(xr + i + 16), odd);
            }
            h[item] = lora_scale * _mm512_reduce_add_ps(_mm512_add_ps(even, odd));
        }
#pragma omp for schedule(static)
        for (int64_t item = 0; item < n * chunks; ++item) {  // y[r, o : o + 16] += sum_j h[r, j] B[j, o : o + 16]
            const int64_t r = item / chunks, o = (item % chunks) * 16;
            const float* b_rows = lora_b + (r / tokens_per_row) * b_stride;
            float* yo = y + r * out + o;
            __m512 acc = _mm512_loadu_ps(yo);
            for (int64_t j = 0; j < rank; ++j) {
                acc = _mm512_fmadd_ps(_mm512_set1_ps(h[r * rank + j]), _mm512_loadu_ps(b_rows + j * out + o), acc);
            }
            _mm512_storeu_ps(yo, acc);
        }
    }
}

}  // namespace

extern "C" {

// y [n, out] = (x [n, k] * input_scale [k]) @ dequantized(w).T + bias (input_scale and bias may be null: SmoothQuant's
// 1 / s, with w holding W * s), plus a LoRA term in float where lora_a is given (see `add_low_rank`). `bits` is 8 or
// 4 (int4 needs `minima`); returns 0, or -1 for a shape or bit width this kernel does not take.
int moe_block_linear(const float* x, const float* input_scale, int64_t n, int64_t k, const uint8_t* w,
                     const uint16_t* scales,
                     const uint16_t* minima, int64_t out, int32_t bits, const float* bias, const float* lora_a,
                     int64_t a_stride, const float* lora_b, int64_t b_stride, int64_t rank, int64_t tokens_per_row,
                     float lora_scale, float* y, int32_t threads) {
    if (k <= 0 || k % (2 * kBlock) != 0 || n <= 0 || out <= 0 || out % kGroup != 0 || (bits != 8 && bits != 4) ||
        (bits == 4 && minima == nullptr) || (lora_a && (rank <= 0 || tokens_per_row <= 0 || !lora_b))) {
        return -1;
    }
    std::vector<int8_t> q(static_cast<size_t>(n * k));
    std::vector<float> scale(static_cast<size_t>(n * k / kBlock));
    std::vector<int32_t> sum(static_cast<size_t>(n * k / kBlock));
    const int row_threads = n > 1 ? threads : 1;
#pragma omp parallel for num_threads(row_threads) schedule(static)
    for (int64_t r = 0; r < n; ++r) {
        quantize_row(x + r * k, input_scale, k, q.data() + r * k, scale.data() + r * k / kBlock, sum.data() + r * k / kBlock);
    }
    const Activations a{q.data(), scale.data(), sum.data(), k};
    // one thread for small products: waking the second costs more than it saves below ~64k weights a row batch
    const int gemm_threads = out * k * n < 65536 ? 1 : std::max(1, static_cast<int>(threads));
    if (bits == 8) {
        gemm<8>(a, n, w, scales, nullptr, out, bias, y, gemm_threads);
    } else {
        gemm<4>(a, n, w, scales, minima, out, bias, y, gemm_threads);
    }
    if (lora_a) {
        add_low_rank(x, n, k, lora_a, a_stride, lora_b, b_stride, rank, tokens_per_row, lora_scale, y, out,
                     std::max(1, static_cast<int>(threads)));
    }
    return 0;
}

}  // extern "C"
