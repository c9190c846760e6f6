using System.Text;
using SiteX.Server.Forwarding.H2;

namespace SiteX.Server.Tests.Forwarding.H2;

/// <summary>Collects decoded fields as Latin-1 strings, copying them out of the spans as the contract requires.</summary>
internal sealed class RecordingHeaderHandler : IHpackHeaderHandler
{
    public List<(string Name, string Value)> Headers { get; } = [];

    public void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
        Headers.Add((Encoding.Latin1.GetString(name), Encoding.Latin1.GetString(value)));
}

/// <summary>Helpers shared by the HPACK tests.</summary>
internal static class Hpack
{
    /// <summary>Bytes from hex as the RFC prints it: pairs of digits, spaces and line breaks ignored.</summary>
    public static byte[] Hex(string hex) => Convert.FromHexString(string.Concat(hex.Where(c => !char.IsWhiteSpace(c))));

    /// <summary>Decodes <paramref name="block"/> with <paramref name="decoder"/> and returns its fields.</summary>
    public static List<(string Name, string Value)> Decode(HpackDecoder decoder, byte[] block)
    {
        var handler = new RecordingHeaderHandler();
        decoder.Decode(block, handler);
        return handler.Headers;
    }

    /// <summary>The dynamic table's entries, newest (index 62) first, as Latin-1 strings.</summary>
    public static List<(string Name, string Value)> Table(HpackDecoder decoder)
    {
        var entries = new List<(string, string)>();
        for (var i = 1; i <= decoder.DynamicTable.Count; i++)
        {
            decoder.DynamicTable.Get(i, out var name, out var value);
            entries.Add((Encoding.Latin1.GetString(name), Encoding.Latin1.GetString(value)));
        }

        return entries;
    }
}
