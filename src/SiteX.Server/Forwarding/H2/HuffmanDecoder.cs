namespace SiteX.Server.Forwarding.H2;

/// <summary>
/// Decodes Huffman-coded HPACK strings (RFC 7541 section 5.2) four bits at a time with a state machine built at type
/// initialization from <see cref="HuffmanCode"/>.
/// </summary>
/// <remarks>
/// <para>The code's binary tree has 257 leaves (the symbols and EOS) and 256 internal nodes; the states are the internal
/// nodes, state 0 the root. For each state and each 4-bit input, <see cref="s_transitions"/> holds the state reached, the
/// symbol completed on the way if any (at most one: the shortest code has 5 bits) and whether EOS was reached. Decoding
/// is two table reads per input byte.</para>
/// <para>At the end of the input the bits since the last symbol are padding. Section 5.2 allows at most 7 of them, all
/// ones (the leading bits of EOS): a state is a valid end when it is the root or an all-ones path of at most 7 bits from
/// it. EOS itself in the data is an error.</para>
/// </remarks>
internal static class HuffmanDecoder
{
    private const int States = 256;
    private const int NextStateMask = 0xFF;
    private const int EmitFlag = 1 << 8;
    private const int SymbolShift = 9;
    private const int EosFlag = 1 << 17;

    /// <summary>Per state: the depth of its node (bits since the last symbol) and whether all those bits are ones.</summary>
    private static readonly (byte Depth, bool AllOnes)[] s_paths = new (byte, bool)[States];

    /// <summary><c>[state * 16 + nibble]</c>: next state | <see cref="EmitFlag"/> | symbol &lt;&lt;
    /// <see cref="SymbolShift"/> | <see cref="EosFlag"/>.</summary>
    private static readonly int[] s_transitions = BuildTransitions();

    /// <summary>Decodes <paramref name="source"/> into <paramref name="destination"/>. Returns the bytes written, or -1
    /// if <paramref name="destination"/> is too small (the longest output is <c>source.Length * 8 / 5</c>).</summary>
    /// <exception cref="HpackException">EOS in the data, or padding longer than 7 bits or not all ones.</exception>
    public static int Decode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var transitions = s_transitions;
        var state = 0;
        var written = 0;
        foreach (var b in source)
        {
            var high = transitions[(state << 4) | (b >> 4)];
            var low = transitions[((high & NextStateMask) << 4) | (b & 0xF)];
            if (!TryEmit(high, destination, ref written) || !TryEmit(low, destination, ref written))
            {
                return -1;
            }

            state = low & NextStateMask;
        }

        var (depth, allOnes) = s_paths[state];
        if (!allOnes)
        {
            throw new HpackException("HPACK: Huffman padding is not all ones");
        }

        if (depth > 7)
        {
            throw new HpackException($"HPACK: Huffman padding of {depth} bits is longer than 7 bits");
        }

        return written;
    }

    /// <summary>Writes the symbol a transition completed, if any. False when <paramref name="destination"/> is full.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static bool TryEmit(int transition, Span<byte> destination, ref int written)
    {
        if ((transition & (EmitFlag | EosFlag)) == 0)
        {
            return true;
        }

        if ((transition & EosFlag) != 0)
        {
            throw EosInData();
        }

        if (written == destination.Length)
        {
            return false;
        }

        destination[written++] = (byte)(transition >> SymbolShift);
        return true;
    }

    private static HpackException EosInData() => new("HPACK: the Huffman-coded string contains the EOS symbol");

    /// <summary>Builds the code tree from <see cref="HuffmanCode"/>, checking that it is a complete prefix code, then the
    /// 4-bit transitions of its internal nodes.</summary>
    private static int[] BuildTransitions()
    {
        // children[node * 2 + bit]: an internal node's id (> 0), a leaf as -(symbol + 1), or 0 while unset.
        var children = new int[States * 2];
        var nodes = 1;
        var codes = HuffmanCode.Codes;
        var lengths = HuffmanCode.Lengths;
        for (var symbol = 0; symbol <= HuffmanCode.Eos; symbol++)
        {
            var node = 0;
            for (var bit = lengths[symbol] - 1; bit >= 0; bit--)
            {
                var slot = node * 2 + (int)((codes[symbol] >> bit) & 1);
                if (bit == 0)
                {
                    Check(children[slot] == 0, symbol);
                    children[slot] = -(symbol + 1);
                    break;
                }

                if (children[slot] == 0)
                {
                    Check(nodes < States, symbol);
                    s_paths[nodes] = ((byte)(s_paths[node].Depth + 1), (node == 0 || s_paths[node].AllOnes) && (slot & 1) == 1);
                    children[slot] = nodes++;
                }

                Check(children[slot] > 0, symbol);
                node = children[slot];
            }
        }

        s_paths[0] = (0, true);
        Check(nodes == States && !children.Contains(0), HuffmanCode.Eos);

        var transitions = new int[States * 16];
        for (var state = 0; state < States; state++)
        {
            for (var nibble = 0; nibble < 16; nibble++)
            {
                var node = state;
                var entry = 0;
                for (var bit = 3; bit >= 0; bit--)
                {
                    var child = children[node * 2 + ((nibble >> bit) & 1)];
                    if (child > 0)
                    {
                        node = child;
                        continue;
                    }

                    var symbol = -child - 1;
                    if (symbol == HuffmanCode.Eos)
                    {
                        entry |= EosFlag;
                        break;
                    }

                    entry |= EmitFlag | (symbol << SymbolShift);
                    node = 0;
                }

                transitions[state * 16 + nibble] = entry | ((entry & EosFlag) != 0 ? 0 : node);
            }
        }

        return transitions;
    }

    private static void Check(bool condition, int symbol)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"HuffmanCode: the code of symbol {symbol} does not form a complete prefix code with the others; check its row against RFC 7541 Appendix B.");
        }
    }
}
