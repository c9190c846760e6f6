using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using SiteX.Server.Forwarding.H2;
using SiteX.Server.Serving;
using SiteX.Tests.Common;
using Xunit.Abstractions;

namespace SiteX.Server.Tests.Serving;

/// <summary>
/// Target R3 for the ingress SiteX parses itself on the inter-site gRPC port: 100 000 generated connections of HTTP/2
/// frames (valid request sequences, then mutated: bits flipped, bytes overwritten, frames cut short, lengths, types,
/// flags and stream ids changed, slices repeated, random frames inserted) each served by an <see cref="H2ServerConnection"/>
/// over an in-memory transport, with an application that reads every request body and answers with a body and trailers.
/// </summary>
/// <remarks>
/// Every connection must end by itself once its input ends (no hang), without an internal failure (no exception out
/// of the connection, no error logged), its output must be well-formed frames within the caller's frame size, and a
/// GOAWAY must name the problem without anything internal (no stack trace, no file path). Memory stays bounded: no
/// connection writes more than 1 MiB, and the managed heap grows by less than 8 MiB over the last 80 000 connections. The
/// generator is seeded, so a failure names the input that caused it and is reproducible.
/// </remarks>
[Collection(nameof(Performance.ProcessWideAllocationCollection))] // measures the heap: nothing else runs meanwhile
public sealed class H2ServerFuzzTests(ITestOutputHelper output)
{
    private const int Inputs = 100_000;
    private const int Seed = 20261129;
    private const int MaxOutputPerConnection = 1024 * 1024;

    /// <summary>Connections served before the heap is first measured: pools, JIT and caches have grown by then.</summary>
    private const int WarmUp = 20_000;

    private static readonly H2ServerLimits Limits = new(MaxConcurrentStreams: 100, StreamWindow: 65_535, ConnectionWindow: 1024 * 1024, MaxHeaderListSize: 16 * 1024, IdleTimeout: TimeSpan.FromMinutes(5));

    [Fact]
    public async Task HundredThousandMutatedConnections_EndByThemselves_WithoutInternalFailures_AndWithinBounds()
    {
        var logs = new TestLoggerProvider();
        using var factory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Warning));
        var logger = factory.CreateLogger<H2ServerConnection>();
        var runner = new ReadAllAndAnswer();
        var random = new Random(Seed);
        var generator = new InputGenerator(random);

        long? heapAfterWarmUp = null;
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        var valid = 0;

        // Two connections at a time keep both cores busy without making a failure hard to attribute.
        var pending = new List<(int Index, Task<string> Run)>();
        for (var i = 0; i < Inputs; i++)
        {
            var (input, answers) = generator.Next();
            valid += answers > 0 ? 1 : 0;
            pending.Add((i, ServeAsync(input, answers, runner, logger)));
            if (pending.Count < 2 && i < Inputs - 1)
            {
                continue;
            }

            foreach (var (index, run) in pending)
            {
                string outcome;
                try
                {
                    outcome = await run.DefaultTimeout(TimeSpan.FromSeconds(30));
                }
                catch (Exception ex)
                {
                    throw new InvalidOperationException($"input {index} (seed {Seed}) failed the connection: {ex.Message}", ex);
                }

                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            }

            pending.Clear();
            if (i + 1 == WarmUp)
            {
                heapAfterWarmUp = Heap();
            }

            if (logs.Errors.Count > 0)
            {
                Assert.Fail($"input {i} (seed {Seed}) logged an error: {logs.Errors[0]}");
            }
        }

        // Nothing a connection leaves behind accumulates: 100 bytes kept per connection would be 8 MB here.
        var growth = Heap() - heapAfterWarmUp!.Value;
        output.WriteLine($"heap after {WarmUp} connections {heapAfterWarmUp.Value / 1024} KiB, growth over the {Inputs - WarmUp} after them {growth / 1024} KiB");
        Assert.True(growth < 8 * 1024 * 1024, $"the heap grew by {growth / 1024} KiB over {Inputs - WarmUp} connections after the first {WarmUp}");

        output.WriteLine($"{Inputs} connections ({valid} valid), {runner.Requests} requests reached the application; how they ended: {Describe(outcomes)}");

        // Every valid connection had all its requests answered (ServeAsync waits for them); the mutated ones reach every
        // way a connection ends: connection errors of several kinds, stream resets, the caller leaving mid-request.
        Assert.True(valid > Inputs / 20, $"only {valid} valid inputs");
        Assert.True(outcomes.GetValueOrDefault("answered") >= valid, Describe(outcomes));
        Assert.True(outcomes.Keys.Count(k => k.StartsWith("goaway ", StringComparison.Ordinal)) >= 4, Describe(outcomes));
        Assert.True(outcomes.Keys.Any(k => k.StartsWith("reset ", StringComparison.Ordinal)), Describe(outcomes));
        Assert.True(runner.Requests > Inputs / 10, $"{runner.Requests} requests reached the application");
    }

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static string Describe(Dictionary<string, int> outcomes) =>
        string.Join(", ", outcomes.OrderByDescending(p => p.Value).Select(p => $"{p.Key}: {p.Value}"));

    /// <summary>Serves one connection whose caller sends <paramref name="input"/>, waits for <paramref name="answers"/>
    /// responses to end (none: it does not wait) and closes its side; returns how it ended, read from the frames the
    /// server wrote.</summary>
    private static async Task<string> ServeAsync(byte[] input, int answers, IRequestRunner runner, ILogger logger)
    {
        var options = new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false);
        var toServer = new Pipe(options);
        var fromServer = new Pipe(options);
        var context = new DefaultConnectionContext("fuzz", new DuplexPipe(toServer.Reader, fromServer.Writer), new DuplexPipe(fromServer.Reader, toServer.Writer));
        var connection = new H2ServerConnection(context, runner, Limits, logger);

        var serve = Task.Run(connection.ProcessAsync);
        var answered = TestTcs.Create();
        var read = ReadOutputAsync(fromServer.Reader, answers, answered);
        await toServer.Writer.WriteAsync(input);
        if (answers > 0)
        {
            await Task.WhenAny(answered.Task, read); // the reader fails or ends when the connection does
        }

        await toServer.Writer.CompleteAsync();
        await serve;
        return await read;
    }

    /// <summary>Reads the server's frames until it closes its output: each within the default frame size, a GOAWAY's
    /// debug text without anything internal; completes <paramref name="answered"/> when <paramref name="answers"/>
    /// responses ended.</summary>
    private static async Task<string> ReadOutputAsync(PipeReader output, int answers, TaskCompletionSource answered)
    {
        long total = 0;
        var ends = 0;
        string? goAway = null;
        string? reset = null;
        while (true)
        {
            var result = await output.ReadAsync();
            var buffer = result.Buffer;
            total += buffer.Length;
            Assert.True(total <= MaxOutputPerConnection, $"the server wrote more than {MaxOutputPerConnection} bytes");
            while (TryReadFrame(ref buffer, out var type, out var flags, out var payload))
            {
                switch (type)
                {
                    case H2FrameType.GoAway:
                        Assert.True(payload.Length >= 8, "GOAWAY shorter than 8 bytes");
                        var code = (H2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(4));
                        var debug = Encoding.UTF8.GetString(payload.AsSpan(8));
                        Assert.DoesNotMatch(@"\bat [\w.`<>]+\(", debug); // a stack frame
                        Assert.DoesNotMatch(@"[A-Z]\w*Exception\b", debug); // an exception's type
                        Assert.DoesNotMatch(@"/\w+/|\.cs\b", debug); // a path
                        Assert.True(code == H2ErrorCode.NoError || debug.Length > 0, $"GOAWAY {code} without a message");
                        goAway ??= $"goaway {code}";
                        break;
                    case H2FrameType.RstStream:
                        Assert.Equal(4, payload.Length);
                        reset ??= $"reset {(H2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload)}";
                        break;
                    case H2FrameType.Headers or H2FrameType.Data when (flags & H2Frame.EndStream) != 0:
                        if (++ends == answers)
                        {
                            answered.TrySetResult();
                        }

                        break;
                }
            }

            output.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                Assert.True(buffer.IsEmpty, $"the server's output ended inside a frame ({buffer.Length} bytes left)");
                break;
            }
        }

        await output.CompleteAsync();
        return goAway is not null && goAway != "goaway NoError" ? goAway : answers > 0 && ends == answers ? "answered" : reset ?? goAway ?? "closed";
    }

    private static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out H2FrameType type, out byte flags, out byte[] payload)
    {
        (type, flags, payload) = (default, 0, []);
        if (buffer.Length < H2Frame.HeaderLength)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[H2Frame.HeaderLength];
        buffer.Slice(0, H2Frame.HeaderLength).CopyTo(header);
        var (length, frameType, frameFlags, _) = H2Frame.ReadHeader(header);
        Assert.True(length <= H2Frame.DefaultMaxFrameSize, $"the server wrote a {frameType} frame of {length} bytes, over the caller's maximum");
        if (buffer.Length < H2Frame.HeaderLength + length)
        {
            return false;
        }

        (type, flags, payload) = (frameType, frameFlags, buffer.Slice(H2Frame.HeaderLength, length).ToArray());
        buffer = buffer.Slice(H2Frame.HeaderLength + length);
        return true;
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>The application: reads the whole request body, then answers with 5 bytes and a trailer, as a gRPC
    /// service would; a request aborted under it ends as ASP.NET Core's pipeline would end it.</summary>
    private sealed class ReadAllAndAnswer : IRequestRunner
    {
        private int _requests;

        public int Requests => Volatile.Read(ref _requests);

        public async Task RunAsync(H2ServerStream stream)
        {
            Interlocked.Increment(ref _requests);
            Exception? error = null;
            try
            {
                var reader = stream.Features.GetRequiredFeature<IRequestBodyPipeFeature>().Reader;
                while (true)
                {
                    var read = await reader.ReadAsync();
                    reader.AdvanceTo(read.Buffer.End);
                    if (read.IsCompleted || read.IsCanceled)
                    {
                        break;
                    }
                }

                var response = stream.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
                "\0\0\0\0\0"u8.CopyTo(response.Writer.GetSpan(5));
                response.Writer.Advance(5);
                stream.Features.GetRequiredFeature<IHttpResponseTrailersFeature>().Trailers["grpc-status"] = "0";
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
            {
                error = ex;
            }

            await stream.EndResponseAsync(error);
            await stream.FireOnCompletedAsync();
        }
    }

    /// <summary>Connections of frames: an exchange of a few requests, mutated in one to four ways or left valid (then
    /// the number of requests to answer comes with it; 0 for the others).</summary>
    private sealed class InputGenerator(Random random)
    {
        private static readonly (string Name, string Value)[] RequestHeaders =
        [
            (":method", "POST"), (":scheme", "http"), (":path", "/org.ppc.ptp.PrivateTransferProtocol/invoke"), (":authority", "127.0.0.1"),
            ("content-type", "application/grpc"), ("te", "trailers"), ("x-ptp-target-node-id", "10000"),
        ];

        private readonly Random _random = random;

        public (byte[] Input, int Answers) Next()
        {
            var frames = new List<byte[]>();
            var streams = _random.Next(1, 5);
            var mutations = _random.Next(5); // a fifth of the inputs stay valid
            var valid = mutations == 0;
            frames.Add(Settings(valid));
            for (var s = 0; s < streams; s++)
            {
                var id = (2 * s) + 1;
                var withBody = _random.Next(4) > 0;
                AddHeaders(frames, id, endStream: !withBody);
                if (withBody)
                {
                    var chunks = _random.Next(1, 4);
                    for (var c = 0; c < chunks; c++)
                    {
                        frames.Add(Data(id, _random.Next(0, 3000), endStream: c == chunks - 1));
                    }
                }

                if (_random.Next(5) == 0)
                {
                    frames.Add(Extra(id, valid));
                }
            }

            for (var m = 0; m < mutations; m++)
            {
                Mutate(frames);
            }

            var preface = H2Frame.Preface.ToArray();
            if (!valid && _random.Next(50) == 0)
            {
                preface[_random.Next(preface.Length)] ^= (byte)(1 << _random.Next(8));
            }

            return ([.. preface, .. frames.SelectMany(f => f)], valid ? streams : 0);
        }

        private byte[] Settings(bool valid)
        {
            var count = _random.Next(0, 4);
            var payload = new byte[6 * count];
            for (var i = 0; i < count; i++)
            {
                var id = (ushort)_random.Next(1, 9);
                var value = _random.Next(4) switch
                {
                    0 => 0,
                    1 => _random.Next(0, 70_000),
                    2 => int.MaxValue,
                    _ => 16_384,
                };
                if (valid)
                {
                    // Values a well-behaved client may send and that still let the responses through.
                    value = id switch
                    {
                        2 => 0, // ENABLE_PUSH
                        4 => 65_535 + _random.Next(0, 1 << 20), // INITIAL_WINDOW_SIZE
                        5 => 16_384 + _random.Next(0, 1 << 16), // MAX_FRAME_SIZE
                        _ => value,
                    };
                }

                H2Frame.WriteSetting(payload.AsSpan(6 * i), id, value);
            }

            return Frame(H2FrameType.Settings, 0, 0, payload);
        }

        private void AddHeaders(List<byte[]> frames, int id, bool endStream)
        {
            var block = new byte[1024];
            var length = 0;
            foreach (var (name, value) in RequestHeaders)
            {
                length += HpackEncoder.WriteHeader(name, value, block.AsSpan(length));
            }

            var flags = endStream ? H2Frame.EndStream : (byte)0;
            if (_random.Next(6) == 0)
            {
                // Split over CONTINUATION frames.
                var cut = _random.Next(1, length);
                frames.Add(Frame(H2FrameType.Headers, flags, id, block.AsSpan(0, cut).ToArray()));
                frames.Add(Frame(H2FrameType.Continuation, H2Frame.EndHeaders, id, block.AsSpan(cut, length - cut).ToArray()));
                return;
            }

            if (_random.Next(8) == 0)
            {
                // Padded, with a priority.
                var pad = _random.Next(0, 20);
                var payload = new byte[1 + 5 + length + pad];
                payload[0] = (byte)pad;
                BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(1), _random.Next(0, id));
                payload[5] = (byte)_random.Next(256);
                block.AsSpan(0, length).CopyTo(payload.AsSpan(6));
                frames.Add(Frame(H2FrameType.Headers, (byte)(flags | H2Frame.EndHeaders | 0x8 | 0x20), id, payload));
                return;
            }

            frames.Add(Frame(H2FrameType.Headers, (byte)(flags | H2Frame.EndHeaders), id, block.AsSpan(0, length).ToArray()));
        }

        private byte[] Data(int id, int length, bool endStream)
        {
            var payload = new byte[length];
            _random.NextBytes(payload);
            if (length > 0)
            {
                payload[0] = 0; // a gRPC message header, uncompressed
            }

            return Frame(H2FrameType.Data, endStream ? H2Frame.EndStream : (byte)0, id, payload);
        }

        private byte[] Extra(int id, bool valid)
        {
            var value = new byte[8];
            _random.NextBytes(value);
            if (valid)
            {
                // Frames that change nothing a request depends on: PING, a window grown a little, a priority on another
                // stream, an acknowledgement of the server's SETTINGS, a frame of an unknown type.
                BinaryPrimitives.WriteInt32BigEndian(value, _random.Next(1, 1 << 16));
                return _random.Next(5) switch
                {
                    0 => Frame(H2FrameType.Ping, 0, 0, value),
                    1 => Frame(H2FrameType.WindowUpdate, 0, _random.Next(2) == 0 ? 0 : id, value[..4]),
                    2 => Frame(H2FrameType.Priority, 0, id, [0, 0, 0, 0, 16]),
                    3 => Frame(H2FrameType.Settings, H2Frame.Ack, 0, []),
                    _ => Frame((H2FrameType)_random.Next(10, 256), (byte)_random.Next(256), id, value),
                };
            }

            return _random.Next(6) switch
            {
                0 => Frame(H2FrameType.Ping, 0, 0, value),
                1 => Frame(H2FrameType.WindowUpdate, 0, _random.Next(2) == 0 ? 0 : id, value[..4]),
                2 => Frame(H2FrameType.RstStream, 0, id, value[..4]),
                3 => Frame(H2FrameType.Priority, 0, id, value[..5]),
                4 => Frame(H2FrameType.Settings, H2Frame.Ack, 0, []),
                _ => Frame((H2FrameType)_random.Next(10, 256), (byte)_random.Next(256), id, value),
            };
        }

        private void Mutate(List<byte[]> frames)
        {
            var index = _random.Next(frames.Count);
            var frame = frames[index];
            switch (frame.Length < H2Frame.HeaderLength ? 8 : _random.Next(9))
            {
                case 0: // bits flipped
                    for (var i = _random.Next(1, 9); i > 0; i--)
                    {
                        frame[_random.Next(frame.Length)] ^= (byte)(1 << _random.Next(8));
                    }

                    break;
                case 1: // bytes overwritten
                    for (var i = _random.Next(1, 5); i > 0; i--)
                    {
                        frame[_random.Next(frame.Length)] = (byte)_random.Next(256);
                    }

                    break;
                case 2: // cut short: the rest of the input shifts into its place
                    frames[index] = frame[.._random.Next(frame.Length)];
                    break;
                case 3: // length field changed
                    var length = _random.Next(3) == 0 ? _random.Next(1 << 24) : Math.Max(0, frame.Length - H2Frame.HeaderLength + _random.Next(-10, 11));
                    frame[0] = (byte)(length >> 16);
                    frame[1] = (byte)(length >> 8);
                    frame[2] = (byte)length;
                    break;
                case 4: // type changed
                    frame[3] = (byte)_random.Next(12);
                    break;
                case 5: // flags changed
                    frame[4] = (byte)_random.Next(256);
                    break;
                case 6: // stream id changed
                    BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), _random.Next(4) == 0 ? _random.Next() : _random.Next(0, 12));
                    break;
                case 7: // a frame repeated
                    frames.Insert(index, (byte[])frame.Clone());
                    break;
                default: // random bytes inserted
                    var noise = new byte[_random.Next(1, 40)];
                    _random.NextBytes(noise);
                    frames.Insert(index, noise);
                    break;
            }
        }

        private static byte[] Frame(H2FrameType type, byte flags, int streamId, byte[] payload)
        {
            var frame = new byte[H2Frame.HeaderLength + payload.Length];
            H2Frame.WriteHeader(frame, payload.Length, type, flags, streamId);
            payload.CopyTo(frame.AsSpan(H2Frame.HeaderLength));
            return frame;
        }
    }
}
