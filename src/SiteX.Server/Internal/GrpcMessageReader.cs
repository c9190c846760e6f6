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
        where T : class;

    /// <summary>Reads and parses the message with <paramref name="parser"/>.</summary>
    public static ValueTask<Result<T>> ReadAsync<T>(HttpContext context, MessageParser<T> parser, long maxBytes)
        where T : class, IMessage<T> =>
        ReadCoreAsync(context, maxBytes, typeof(T).Name, parser, static (parser, body) => parser.ParseFrom(body));

    /// <summary>Reads the message's bytes (decompressed) without parsing them; <paramref name="what"/> names the
    /// expected message in errors. With <paramref name="pooled"/> the bytes are in an array from the shared pool,
    /// returned when the result's message is disposed: only for bytes nothing uses after that (not for a request
    /// another client may still be sending when its call ends).</summary>
    public static ValueTask<Result<MessageBytes>> ReadBytesAsync(HttpContext context, long maxBytes, string what, bool pooled) =>
        ReadCoreAsync(context, maxBytes, what, pooled, static (pooled, body) => MessageBytes.CopyOf(body, pooled));

    /// <summary>Waits for the whole message, then hands its bytes to <paramref name="take"/> (with
    /// <paramref name="state"/>: a static delegate, no allocation per call) while they are still in the request pipe
    /// (decompressed first when the caller sent gzip).</summary>
    private static async ValueTask<Result<T>> ReadCoreAsync<TState, T>(HttpContext context, long maxBytes, string what, TState state, Func<TState, ReadOnlySequence<byte>, T> take)
        where T : class
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
                            message = take(state, body);
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

                            message = take(state, new ReadOnlySequence<byte>(bounded.GetBuffer(), 0, (int)bounded.Length));
                        }
                        else
                        {
                            return new(null, "the request message is compressed with an encoding this gateway does not accept; use gzip or none", false);
                        }

                        return new(message, null, false);
                    }
                    catch (InvalidProtocolBufferException)
                    {
                        return new(null, $"the request is not a valid {what} message", false);
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

/// <summary>A request message's bytes: in an array of its own, or in one from <see cref="MessageBufferPool"/> that
/// <see cref="Dispose"/> returns.</summary>
internal sealed class MessageBytes : IDisposable
{
    private bool _pooled;
    private byte[]? _array;

    private MessageBytes(byte[] array, int length, bool pooled) => (_array, Length, _pooled) = (array, length, pooled);

    public int Length { get; }

    /// <summary>Whether <see cref="Dispose"/> returns the array to the pool.</summary>
    public bool Pooled => _pooled;

    public ReadOnlyMemory<byte> Memory => (_array ?? throw new ObjectDisposedException(nameof(MessageBytes))).AsMemory(0, Length);

    public static MessageBytes CopyOf(ReadOnlySequence<byte> bytes, bool pooled)
    {
        var length = (int)bytes.Length;
        pooled &= length <= MessageBufferPool.MaxPooledLength; // larger ones are left to the GC
        var array = pooled ? MessageBufferPool.Pool.Rent(length) : GC.AllocateUninitializedArray<byte>(length);
        bytes.CopyTo(array);
        return new MessageBytes(array, length, pooled);
    }

    /// <summary>Someone may still read the bytes after this message is disposed (a relayed call's client): the array
    /// is left to the GC instead of going back to the pool.</summary>
    public void Keep() => _pooled = false;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _array, null) is { } array && _pooled)
        {
            MessageBufferPool.Pool.Return(array);
        }
    }
}
