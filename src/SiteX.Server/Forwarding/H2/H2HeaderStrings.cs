using System.Text;

namespace SiteX.Server.Forwarding.H2;

/// <summary>Header names and values as strings, without allocating for the ones gRPC calls carry on every call (both
/// HTTP/2 sides: the relay's responses and the server half's requests).</summary>
internal static class H2HeaderStrings
{
    public static string Name(ReadOnlySpan<byte> name) => name switch
    {
        _ when name.SequenceEqual("content-type"u8) => "content-type",
        _ when name.SequenceEqual("grpc-status"u8) => "grpc-status",
        _ when name.SequenceEqual("grpc-message"u8) => "grpc-message",
        _ when name.SequenceEqual("grpc-encoding"u8) => "grpc-encoding",
        _ when name.SequenceEqual("grpc-accept-encoding"u8) => "grpc-accept-encoding",
        _ when name.SequenceEqual("date"u8) => "date",
        _ when name.SequenceEqual("server"u8) => "server",
        _ when name.SequenceEqual("te"u8) => "te",
        _ when name.SequenceEqual("grpc-timeout"u8) => "grpc-timeout",
        _ when name.SequenceEqual("user-agent"u8) => "user-agent",
        _ when name.SequenceEqual("content-length"u8) => "content-length",
        _ => Encoding.Latin1.GetString(name),
    };

    public static string Value(ReadOnlySpan<byte> value) => value switch
    {
        _ when value.SequenceEqual("application/grpc"u8) => "application/grpc",
        _ when value.SequenceEqual("0"u8) => "0",
        _ when value.SequenceEqual("identity"u8) => "identity",
        _ when value.SequenceEqual("gzip"u8) => "gzip",
        _ when value.SequenceEqual("trailers"u8) => "trailers",
        _ when value.SequenceEqual("Kestrel"u8) => "Kestrel",
        _ => Encoding.Latin1.GetString(value),
    };
}
