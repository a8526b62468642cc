//go:build amd64 && !purego

#include "textflag.h"

// func maskBytes(dst, src *byte, n int, key uint32, pos int) int
// XORs src with the key from key position pos into dst (len(dst) ==
// len(src)) and returns the position after src. Vectors first (AVX2: 128
// bytes per iteration, then 32; or SSE2: 64, then 16), then 8-byte words in
// a general register, then single bytes, shifting the key word one byte
// along for each. Doing the whole length here, not only the vector part,
// keeps short payloads cheap. Unaligned loads and stores throughout.
TEXT ·maskBytes(SB), NOSPLIT, $0-48
	// The key word: the key rotated right by 8*pos bits, twice over.
	MOVL key+24(FP), AX
	MOVQ pos+32(FP), CX
	MOVQ n+16(FP), BX
	LEAQ (CX)(BX*1), DX
	ANDQ $3, DX
	MOVQ DX, ret+40(FP)
	ANDQ $3, CX
	SHLQ $3, CX
	RORL CX, AX
	MOVQ AX, DX
	SHLQ $32, DX
	ORQ  DX, AX
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ BX, CX
	CMPQ CX, $16
	JB   words
	MOVQ AX, X0
	CMPB ·useAVX2(SB), $0
	JEQ  sse
	VPBROADCASTQ X0, Y0

avx128:
	CMPQ CX, $128
	JB   avx32
	VPXOR   (SI), Y0, Y1
	VPXOR   32(SI), Y0, Y2
	VPXOR   64(SI), Y0, Y3
	VPXOR   96(SI), Y0, Y4
	VMOVDQU Y1, (DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y3, 64(DI)
	VMOVDQU Y4, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $128, CX
	JMP     avx128

avx32:
	CMPQ    CX, $32
	JB      avxdone
	VPXOR   (SI), Y0, Y1
	VMOVDQU Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $32, CX
	JMP     avx32

avxdone:
	VZEROUPPER
	TESTQ CX, CX
	JNZ   words
	RET

sse:
	PUNPCKLQDQ X0, X0

sse64:
	CMPQ   CX, $64
	JB     sse16
	MOVOU  (SI), X1
	MOVOU  16(SI), X2
	MOVOU  32(SI), X3
	MOVOU  48(SI), X4
	PXOR   X0, X1
	PXOR   X0, X2
	PXOR   X0, X3
	PXOR   X0, X4
	MOVOU  X1, (DI)
	MOVOU  X2, 16(DI)
	MOVOU  X3, 32(DI)
	MOVOU  X4, 48(DI)
	ADDQ   $64, SI
	ADDQ   $64, DI
	SUBQ   $64, CX
	JMP    sse64

sse16:
	CMPQ   CX, $16
	JB     words
	MOVOU  (SI), X1
	PXOR   X0, X1
	MOVOU  X1, (DI)
	ADDQ   $16, SI
	ADDQ   $16, DI
	SUBQ   $16, CX
	JMP    sse16

words:
	CMPQ CX, $8
	JB   bytes
	MOVQ (SI), DX
	XORQ AX, DX
	MOVQ DX, (DI)
	ADDQ $8, SI
	ADDQ $8, DI
	SUBQ $8, CX
	JMP  words

bytes:
	TESTQ CX, CX
	JZ    done
	MOVB  (SI), DX
	XORB  AX, DX
	MOVB  DX, (DI)
	SHRQ  $8, AX
	INCQ  SI
	INCQ  DI
	DECQ  CX
	JMP   bytes

done:
	RET

// func cpuHasAVX2() bool
// AVX2 needs the CPU's AVX2 flag (CPUID leaf 7, EBX bit 5), AVX and
// OSXSAVE (leaf 1, ECX bits 28 and 27), and the OS saving the vector
// registers (XCR0 bits 1 and 2).
TEXT ·cpuHasAVX2(SB), NOSPLIT, $0-1
	MOVL   $1, AX
	XORL   CX, CX
	CPUID
	ANDL   $0x18000000, CX
	CMPL   CX, $0x18000000
	JNE    no
	XORL   CX, CX
	XGETBV
	ANDL   $6, AX
	CMPL   AX, $6
	JNE    no
	MOVL   $7, AX
	XORL   CX, CX
	CPUID
	ANDL   $0x20, BX
	JZ     no
	MOVB   $1, ret+0(FP)
	RET

no:
	MOVB $0, ret+0(FP)
	RET
