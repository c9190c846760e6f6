namespace SiteX.Server.Forwarding.H2;

/// <summary>The static Huffman code HPACK string literals may be written in (RFC 7541 section 5.2).</summary>
internal static class HuffmanCode
{
    /// <summary>The EOS symbol: 30 one bits. Never valid inside a string; its leading bits pad the last byte.</summary>
    public const int Eos = 256;

    /// <summary>
    /// RFC 7541 Appendix B, "Huffman Code": for each symbol 0 to 255 and EOS (256), its code (the appendix's "code as
    /// hex aligned to LSB") and its length in bits. Transcribed from the appendix, four symbols a line; the code is
    /// canonical and complete, which <see cref="HuffmanDecoder"/> checks when it builds its tree from this table.
    /// </summary>
    public static ReadOnlySpan<uint> Codes =>
    [
        /*   0 */ 0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3,
        /*   4 */ 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7,
        /*   8 */ 0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9,
        /*  12 */ 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec,
        /*  16 */ 0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0,
        /*  20 */ 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3,
        /*  24 */ 0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7,
        /*  28 */ 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb,
        /*  32 */ 0x14, 0x3f8, 0x3f9, 0xffa,
        /*  36 */ 0x1ff9, 0x15, 0xf8, 0x7fa,
        /*  40 */ 0x3fa, 0x3fb, 0xf9, 0x7fb,
        /*  44 */ 0xfa, 0x16, 0x17, 0x18,
        /*  48 */ 0x0, 0x1, 0x2, 0x19,
        /*  52 */ 0x1a, 0x1b, 0x1c, 0x1d,
        /*  56 */ 0x1e, 0x1f, 0x5c, 0xfb,
        /*  60 */ 0x7ffc, 0x20, 0xffb, 0x3fc,
        /*  64 */ 0x1ffa, 0x21, 0x5d, 0x5e,
        /*  68 */ 0x5f, 0x60, 0x61, 0x62,
        /*  72 */ 0x63, 0x64, 0x65, 0x66,
        /*  76 */ 0x67, 0x68, 0x69, 0x6a,
        /*  80 */ 0x6b, 0x6c, 0x6d, 0x6e,
        /*  84 */ 0x6f, 0x70, 0x71, 0x72,
        /*  88 */ 0xfc, 0x73, 0xfd, 0x1ffb,
        /*  92 */ 0x7fff0, 0x1ffc, 0x3ffc, 0x22,
        /*  96 */ 0x7ffd, 0x3, 0x23, 0x4,
        /* 100 */ 0x24, 0x5, 0x25, 0x26,
        /* 104 */ 0x27, 0x6, 0x74, 0x75,
        /* 108 */ 0x28, 0x29, 0x2a, 0x7,
        /* 112 */ 0x2b, 0x76, 0x2c, 0x8,
        /* 116 */ 0x9, 0x2d, 0x77, 0x78,
        /* 120 */ 0x79, 0x7a, 0x7b, 0x7ffe,
        /* 124 */ 0x7fc, 0x3ffd, 0x1ffd, 0xffffffc,
        /* 128 */ 0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8,
        /* 132 */ 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9,
        /* 136 */ 0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc,
        /* 140 */ 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf,
        /* 144 */ 0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0,
        /* 148 */ 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3,
        /* 152 */ 0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5,
        /* 156 */ 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef,
        /* 160 */ 0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb,
        /* 164 */ 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde,
        /* 168 */ 0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0,
        /* 172 */ 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec,
        /* 176 */ 0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2,
        /* 180 */ 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef,
        /* 184 */ 0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4,
        /* 188 */ 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1,
        /* 192 */ 0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1,
        /* 196 */ 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec,
        /* 200 */ 0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde,
        /* 204 */ 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed,
        /* 208 */ 0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0,
        /* 212 */ 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2,
        /* 216 */ 0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9,
        /* 220 */ 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5,
        /* 224 */ 0xfffec, 0xfffff3, 0xfffed, 0x1fffe6,
        /* 228 */ 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3,
        /* 232 */ 0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef,
        /* 236 */ 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4,
        /* 240 */ 0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed,
        /* 244 */ 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea,
        /* 248 */ 0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed,
        /* 252 */ 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee,
        /* EOS */ 0x3fffffff,
    ];

    /// <summary>RFC 7541 Appendix B: the length in bits of each symbol's code, in the order of <see cref="Codes"/>.</summary>
    public static ReadOnlySpan<byte> Lengths =>
    [
        /*   0 */ 13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
        /*  16 */ 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        /*  32 */ 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
        /*  48 */ 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        /*  64 */ 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
        /*  80 */ 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        /*  96 */ 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
        /* 112 */ 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        /* 128 */ 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
        /* 144 */ 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        /* 160 */ 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
        /* 176 */ 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        /* 192 */ 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
        /* 208 */ 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        /* 224 */ 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
        /* 240 */ 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        /* EOS */ 30,
    ];
}
