using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace SiteX.Server.Internal;

/// <summary>Reads the single request message of a unary gRPC call that SiteX handles itself.</summary>
internal static class GrpcMessageReader
{
    public readonly record struct Result<T>(T? Message, string? Error, bool TooLarge)
        where T : class, IMessage<T>;

    public static async ValueTask<Result<T>> ReadAsync<T>(HttpContext context, MessageParser<T> parser, long maxBytes)
        where T : class, IMessage<T>
    {
        var reader = context.Request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(context.RequestAborted);
            var buffer = read.Buffer;
            if (buffer.Length >= 5)
            {
                var (compressedFlag, length) = ReadPrefix(buffer);
                if (length > maxBytes)
                {
                    reader.AdvanceTo(buffer.Start);
                    return new(null, $"the request message is {length} bytes, over the {maxBytes}-byte limit", true);
                }

                if (buffer.Length >= 5 + length)
                {
                    var body = buffer.Slice(5, length);
                    try
                    {
                        T message;
                        if (compressedFlag == 0)
                        {
                            message = parser.ParseFrom(body);
                        }
                        else if (string.Equals(context.Request.Headers["grpc-encoding"], "gzip", StringComparison.OrdinalIgnoreCase))
                        {
                            using var compressed = new MemoryStream(body.ToArray());
                            using var gzip = new GZipStream(compressed, CompressionMode.Decompress);
                            using var bounded = new MemoryStream();
                            await gzip.CopyToAsync(bounded, context.RequestAborted);
                            if (bounded.Length > maxBytes)
                            {
                                return new(null, $"the decompressed request message is over the {maxBytes}-byte limit", true);
                            }

                            bounded.Position = 0;
                            message = parser.ParseFrom(bounded);
                        }
                        else
                        {
                            return new(null, "the request message is compressed with an encoding this gateway does not accept; use gzip or none", false);
                        }

                        return new(message, null, false);
                    }
                    catch (InvalidProtocolBufferException)
                    {
                        return new(null, $"the request is not a valid {typeof(T).Name} message", false);
                    }
                    finally
                    {
                        reader.AdvanceTo(buffer.GetPosition(5 + length));
                    }
                }
            }

            if (read.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                return new(null, buffer.Length == 0 ? "the request has no message" : "the request ends in the middle of its message", false);
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>The gRPC message prefix: the compressed flag and the message length (no array per call).</summary>
    private static (byte Flag, uint Length) ReadPrefix(in ReadOnlySequence<byte> buffer)
    {
        Span<byte> prefix = stackalloc byte[5];
        buffer.Slice(0, 5).CopyTo(prefix);
        return (prefix[0], BinaryPrimitives.ReadUInt32BigEndian(prefix[1..]));
    }
}
