using SiteX.Tests.Common;
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using SiteX.Server.Forwarding;
using SiteX.Server.Forwarding.H2;
using Yarp.ReverseProxy.Forwarder;

namespace SiteX.Server.Tests.Forwarding.H2;

/// <summary>The HTTP/2 relay's connection and frame layer against real Kestrel servers (and a raw TCP listener).</summary>
public sealed class H2RelayTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static async Task EchoAsync(HttpContext context)
    {
        context.Response.Headers["x-echo"] = "1";
        context.Response.AppendTrailer("x-trailer", "done");
        await context.Request.BodyReader.CopyToAsync(context.Response.BodyWriter, context.RequestAborted);
    }

    [Fact]
    public async Task Connection_ExchangesSettings_AndAppliesThePeers()
    {
        // Arrange
        await using var harness = await RelayHarness.StartAsync(EchoAsync, kestrel => kestrel.Limits.Http2.MaxStreamsPerConnection = 7);

        // Act
        using var response = await harness.Client.PostAsync("/echo", new ByteArrayContent([1, 2, 3])).DefaultTimeout();
        var body = await response.Content.ReadAsByteArrayAsync().DefaultTimeout();
        var (result, _) = await harness.NextResultAsync();

        // Assert
        Assert.Equal(ForwarderError.None, result.Error);
        Assert.Equal([1, 2, 3], body);
        Assert.Equal("1", response.Headers.GetValues("x-echo").Single());
        Assert.Equal("done", response.TrailingHeaders.GetValues("x-trailer").Single());
        var connection = Assert.Single(harness.Pool.Connections);
        await Eventually(() => connection.SettingsAcknowledged);
        Assert.Equal(7, connection.PeerMaxConcurrentStreams);
        Assert.Equal((3, 3), (result.RequestBytes, result.ResponseBytes));
        Assert.Equal(0, connection.ResetsSent); // a call that ended cleanly is not reset
    }

    [Fact]
    public async Task FlowControl_5MiBBothWaysThroughSmallWindowsAndASlowReader_ArrivesIntact()
    {
        // Arrange: the next hop's windows are the smallest allowed, so this side runs out and waits for updates. It
        // reads the whole request before answering (HttpClient sends a non-duplex body completely before it reads).
        await using var harness = await RelayHarness.StartAsync(async context =>
        {
            var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            await context.Response.Body.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length), context.RequestAborted);
        }, kestrel =>
        {
            kestrel.Limits.Http2.InitialConnectionWindowSize = 65_535;
            kestrel.Limits.Http2.InitialStreamWindowSize = 65_535;
        });
        var payload = new byte[5 * 1024 * 1024];
        Random.Shared.NextBytes(payload);

        // Act: read the response slowly, so the caller's pipe pushes back on the relay.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/echo")
        {
            Content = new ByteArrayContent(payload),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        var sending = harness.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (await Record.ExceptionAsync(() => sending.DefaultTimeout()) is { } failed)
        {
            output.WriteLine(failed.ToString());
            output.WriteLine($"{await harness.NextResultAsync()}");
        }

        using var response = await sending;
        await using var stream = await response.Content.ReadAsStreamAsync().DefaultTimeout();
        var received = new MemoryStream();
        var chunk = new byte[256 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk).AsTask().DefaultTimeout()) > 0)
        {
            received.Write(chunk, 0, read);
            if (received.Length < 2 * 1024 * 1024)
            {
                await Task.Delay(20);
            }
        }

        var (result, exception) = await harness.NextResultAsync();
        output.WriteLine($"{result}: {exception}");

        // Assert
        Assert.True(result.Error == ForwarderError.None, $"{result.Error}: {exception}");
        Assert.Equal(payload.Length, received.Length);
        Assert.True(payload.AsSpan().SequenceEqual(received.ToArray()));
        Assert.Equal((payload.Length, payload.Length), (result.RequestBytes, result.ResponseBytes));
    }

    [Fact]
    public async Task ConcurrentLargeCalls_WhileTheCallersPipesPushBack_EachArrivesIntact()
    {
        // Arrange: an echo next hop and 16 calls of about 1 MiB at once, each with bytes of its own, on one relay
        // connection: the callers' response pipes push back, so most DATA takes the relay's put-aside path while the
        // frames of the other streams interleave with it.
        await using var harness = await RelayHarness.StartAsync(EchoAsync);
        var payloads = Enumerable.Range(0, 16).Select(i =>
        {
            var bytes = new byte[(1024 * 1024) + (i * 1031)];
            new Random(i).NextBytes(bytes);
            return bytes;
        }).ToArray();

        for (var round = 0; round < 3; round++)
        {
            // Act
            var calls = payloads.Select(async payload =>
            {
                using var response = await harness.Client.PostAsync("/echo", new ByteArrayContent(payload));
                return await response.Content.ReadAsByteArrayAsync();
            }).ToArray();
            var received = await Task.WhenAll(calls).DefaultTimeout();

            // Assert
            for (var i = 0; i < payloads.Length; i++)
            {
                Assert.True(payloads[i].AsSpan().SequenceEqual(received[i]), $"call {i} of round {round} came back altered ({received[i].Length} of {payloads[i].Length} bytes)");
            }
        }

        Assert.Single(harness.Pool.Connections);
    }

    [Fact]
    public async Task LargeRequestBody_MovesInBatchesOfTheWriteBuffersHighWaterMark_NotAWindowAtATime()
    {
        // Arrange: the next hop's windows are large (16 MiB), so only the write buffer's high-water mark bounds how
        // much DATA the relay buffers before writing.
        await using var harness = await RelayHarness.StartAsync(async context =>
        {
            long total = 0;
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                total += read;
            }

            await context.Response.WriteAsync(total.ToString(System.Globalization.CultureInfo.InvariantCulture), context.RequestAborted);
        }, kestrel =>
        {
            kestrel.Limits.Http2.InitialConnectionWindowSize = 16 * 1024 * 1024;
            kestrel.Limits.Http2.InitialStreamWindowSize = 16 * 1024 * 1024;
        });
        var payload = new byte[8 * 1024 * 1024];

        // Act
        using var response = await harness.Client.PostAsync("/count", new ByteArrayContent(payload)).DefaultTimeout();
        var body = await response.Content.ReadAsStringAsync().DefaultTimeout();
        var (result, exception) = await harness.NextResultAsync();

        // Assert
        Assert.True(result.Error == ForwarderError.None, $"{result.Error}: {exception}");
        Assert.Equal(payload.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), body);
        var peak = Assert.Single(harness.Pool.Connections).PeakBuffered;
        output.WriteLine($"peak write buffer: {peak} bytes");
        Assert.InRange(peak, 1, H2FrameWriter.HighWater + H2Frame.HeaderLength + H2Frame.DefaultMaxFrameSize);
    }

    [Fact]
    public async Task Http11CallerWithContentLength_LastBytesArrivingWithTheEndOfTheStream_AreFlushed()
    {
        // Arrange: the next hop sends its first bytes, waits until the caller has them, then sends the rest with the
        // end of the stream in one DATA frame. Kestrel does not flush what is left of an HTTP/1.1 response with a
        // Content-Length when the request completes, so the relay must.
        var firstReceived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var harness = await RelayHarness.StartAsync(async context =>
        {
            context.Response.ContentLength = 11;
            await context.Response.Body.WriteAsync("hello "u8.ToArray(), context.RequestAborted);
            await firstReceived.Task.DefaultTimeout();
            context.Response.BodyWriter.Write("world"u8);
        }, frontProtocols: Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/download")
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        // Act
        using var response = await harness.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        await using var stream = await response.Content.ReadAsStreamAsync().DefaultTimeout();
        var first = new byte[6];
        await stream.ReadExactlyAsync(first).AsTask().DefaultTimeout();
        firstReceived.SetResult();
        var rest = new MemoryStream();
        await stream.CopyToAsync(rest).DefaultTimeout();
        var (result, exception) = await harness.NextResultAsync();

        // Assert
        Assert.Equal(11, response.Content.Headers.ContentLength);
        Assert.Equal("hello world", System.Text.Encoding.ASCII.GetString([.. first, .. rest.ToArray()]));
        Assert.True(result.Error == ForwarderError.None, $"{result.Error}: {exception}");
        Assert.Equal(11, result.ResponseBytes);
    }

    [Fact]
    public async Task Streams_BeyondThePeersMaxConcurrentStreams_OpenMoreConnections()
    {
        // Arrange: 4 streams per connection; 20 calls that each wait until all 20 reached the next hop.
        const int Calls = 20;
        var arrived = 0;
        var all = TestTcs.Create();
        await using var harness = await RelayHarness.StartAsync(async context =>
        {
            if (Interlocked.Increment(ref arrived) == Calls)
            {
                all.TrySetResult();
            }

            await all.Task.WaitAsync(context.RequestAborted);
            await EchoAsync(context);
        }, kestrel => kestrel.Limits.Http2.MaxStreamsPerConnection = 4);

        // Act
        var calls = Enumerable.Range(0, Calls).Select(async i =>
        {
            using var response = await harness.Client.PostAsync("/hold", new ByteArrayContent([(byte)i]));
            return (await response.Content.ReadAsByteArrayAsync())[0];
        }).ToArray();
        var bodies = await Task.WhenAll(calls).DefaultTimeout();

        // Assert
        Assert.Equal(Enumerable.Range(0, Calls).Select(i => (byte)i), bodies);
        Assert.True(harness.Pool.Connections.Count >= Calls / 4, $"{harness.Pool.Connections.Count} connection(s)");
    }

    [Fact]
    public async Task GoAway_FromAStoppingServer_LetsTheRunningCallFinishAndTakesNoNewOnes()
    {
        // Arrange: one call in progress when the next hop starts shutting down.
        var started = TestTcs.Create();
        var release = TestTcs.Create();
        await using var harness = await RelayHarness.StartAsync(async context =>
        {
            started.TrySetResult();
            await release.Task.WaitAsync(context.RequestAborted);
            await EchoAsync(context);
        });
        var running = harness.Client.PostAsync("/slow", new ByteArrayContent([42]));
        await started.Task.DefaultTimeout();
        var connection = Assert.Single(harness.Pool.Connections);

        // Act
        var stopping = harness.StopBackendAsync();
        await Eventually(() => !connection.IsOpen);
        release.TrySetResult();
        using var response = await running.DefaultTimeout();
        await stopping.DefaultTimeout();
        using var after = await harness.Client.PostAsync("/late", new ByteArrayContent([1])).DefaultTimeout();

        // Assert
        Assert.Equal([42], await response.Content.ReadAsByteArrayAsync().DefaultTimeout());
        Assert.Equal(ForwarderError.None, (await harness.NextResultAsync()).Result.Error);
        Assert.DoesNotContain(connection, harness.Pool.Connections);
        Assert.Equal(HttpStatusCode.BadGateway, after.StatusCode);
        var (late, exception) = await harness.NextResultAsync();
        Assert.Equal(ForwarderError.Request, late.Error);
        Assert.Equal(GatewayError.NextHopUnreachable, CallForwarder.Classify(late.Error, exception, deadlinePassed: false, callerAborted: false));
    }

    [Fact]
    public async Task UpstreamReset_BeforeTheResponse_FailsTheCallAsARequestError()
    {
        // Arrange
        await using var harness = await RelayHarness.StartAsync(context =>
        {
            context.Features.Get<IHttpResetFeature>()!.Reset(0x2);
            return Task.CompletedTask;
        });

        // Act
        using var response = await harness.Client.PostAsync("/reset", new ByteArrayContent([1])).DefaultTimeout();
        var (result, exception) = await harness.NextResultAsync();

        // Assert
        Assert.Equal(ForwarderError.Request, result.Error);
        Assert.Equal(H2ErrorCode.InternalError, Assert.IsType<H2StreamResetException>(exception).Code);
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(GatewayError.NextHopFailed, CallForwarder.Classify(result.Error, exception, false, false));
    }

    [Fact]
    public async Task UpstreamReset_MidResponse_ResetsTheCallersStream()
    {
        // Arrange
        await using var harness = await RelayHarness.StartAsync(async context =>
        {
            await context.Response.BodyWriter.WriteAsync(new byte[100]);
            await context.Response.BodyWriter.FlushAsync();
            await Task.Delay(50);
            context.Features.Get<IHttpResetFeature>()!.Reset(0x2);
        });

        // Act
        var read = await Record.ExceptionAsync(() => harness.Client.PostAsync("/reset", new ByteArrayContent([1])).DefaultTimeout());
        var (result, exception) = await harness.NextResultAsync();

        // Assert
        Assert.Equal(ForwarderError.ResponseBodyDestination, result.Error);
        Assert.IsType<H2StreamResetException>(exception);
        Assert.NotNull(read); // the caller sees its stream reset, not a complete response
    }

    [Fact]
    public async Task CallerCancellation_SendsRstStream_AndTheServerSeesTheAbort()
    {
        // Arrange
        var started = TestTcs.Create();
        var aborted = TestTcs.Create();
        await using var harness = await RelayHarness.StartAsync(async context =>
        {
            context.RequestAborted.Register(() => aborted.TrySetResult());
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { });
        });
        using var cancel = new CancellationTokenSource();

        // Act
        var call = harness.Client.PostAsync("/wait", new ByteArrayContent([1]), cancel.Token);
        await started.Task.DefaultTimeout();
        await cancel.CancelAsync();
        await Record.ExceptionAsync(() => call);

        // Assert
        await aborted.Task.DefaultTimeout();
        var (result, _) = await harness.NextResultAsync();
        Assert.Equal(ForwarderError.RequestCanceled, result.Error);
        await Eventually(() => harness.Pool.Connections.Single().ActiveStreams == 0);
        Assert.Equal(1, harness.Pool.Connections.Single().ResetsSent);
    }

    [Fact]
    public async Task GarbageFromTheServer_IsAProtocolError()
    {
        // Arrange: a raw TCP listener that answers anything with junk.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var serving = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            var junk = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray().Concat(new byte[20_000].Select(_ => (byte)0x7F)).ToArray();
            await socket.SendAsync(junk);
            var buffer = new byte[4096];
            while (await socket.ReceiveAsync(buffer) > 0)
            {
            }
        });
        await using var harness = await RelayHarness.StartForPortAsync(((IPEndPoint)listener.LocalEndpoint).Port);

        // Act
        using var response = await harness.Client.PostAsync("/x", new ByteArrayContent([1])).DefaultTimeout();
        var (result, exception) = await harness.NextResultAsync();

        // Assert
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(ForwarderError.Request, result.Error);
        Assert.NotNull(FindInChain<H2ProtocolException>(exception));
        await serving.DefaultTimeout(); // the relay closed the connection
    }

    [Fact]
    public async Task InformationalResponseEndingTheStream_IsAMalformedResponse_AndTheStreamIsReset()
    {
        // Arrange: a raw HTTP/2 server that answers the first request with "103" and END_STREAM (RFC 9113 8.1: malformed):
        // HEADERS, stream 1, END_STREAM | END_HEADERS, ":status: 103" (literal, name from static entry 8).
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var reset = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var serving = ServeRawAsync(listener, [0, 0, 5, 1, 0x05, 0, 0, 0, 1, 0x08, 3, (byte)'1', (byte)'0', (byte)'3'], reset);
        await using (var harness = await RelayHarness.StartForPortAsync(((IPEndPoint)listener.LocalEndpoint).Port))
        {
            // Act
            using var response = await harness.Client.PostAsync("/x", new ByteArrayContent([1])).DefaultTimeout();
            var (result, exception) = await harness.NextResultAsync();

            // Assert
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.Equal(ForwarderError.Request, result.Error);
            Assert.Contains("informational", exception?.Message, StringComparison.Ordinal);
            Assert.Equal(1, await reset.Task.DefaultTimeout()); // RST_STREAM with PROTOCOL_ERROR
        }

        await serving.DefaultTimeout(); // the relay closed its connection with the harness
    }

    /// <summary>The complete frames in what a raw server received (after the 24-byte client preface), with the error
    /// code of each RST_STREAM (-1 for other frames).</summary>
    private static List<(int Type, int Flags, int StreamId, int ErrorCode, byte[] Payload)> RawFrames(List<byte> received)
    {
        var frames = new List<(int, int, int, int, byte[])>();
        for (var at = 24; at + 9 <= received.Count;)
        {
            var length = (received[at] << 16) | (received[at + 1] << 8) | received[at + 2];
            if (at + 9 + length > received.Count)
            {
                break;
            }

            var streamId = ((received[at + 5] & 0x7F) << 24) | (received[at + 6] << 16) | (received[at + 7] << 8) | received[at + 8];
            var code = received[at + 3] == 3 && length >= 4
                ? (received[at + 9] << 24) | (received[at + 10] << 16) | (received[at + 11] << 8) | received[at + 12]
                : -1;
            frames.Add((received[at + 3], received[at + 4], streamId, code, received.GetRange(at + 9, length).ToArray()));
            at += 9 + length;
        }

        return frames;
    }

    /// <summary>A raw HTTP/2 server on <paramref name="listener"/>: sends an empty SETTINGS, then
    /// <paramref name="answer"/> once the relay's HEADERS for stream 1 arrived; completes <paramref name="reset"/> with
    /// the error code of the relay's RST_STREAM for stream 1. Ends when the relay closes the connection.</summary>
    private static Task ServeRawAsync(TcpListener listener, byte[] answer, TaskCompletionSource<int> reset) => Task.Run(async () =>
    {
        using var socket = await listener.AcceptSocketAsync();
        await socket.SendAsync(new byte[] { 0, 0, 0, 4, 0, 0, 0, 0, 0 }); // SETTINGS, empty
        var received = new List<byte>();
        var buffer = new byte[4096];
        var answered = false;
        int read;
        while ((read = await socket.ReceiveAsync(buffer)) > 0)
        {
            received.AddRange(buffer.AsSpan(0, read).ToArray());
            var frames = RawFrames(received);
            if (!answered && frames.Any(f => f.Type == 1 && f.StreamId == 1))
            {
                await socket.SendAsync(answer);
                answered = true;
            }

            if (frames.FirstOrDefault(f => f.Type == 3 && f.StreamId == 1) is { Type: 3 } rst)
            {
                reset.TrySetResult(rst.ErrorCode);
            }
        }
    });

    [Fact]
    public async Task NextHopChangingItsHeaderTableSize_GetsAHeaderBlockThatStartsWithASizeUpdate()
    {
        // Arrange: a raw HTTP/2 server that lowers SETTINGS_HEADER_TABLE_SIZE to 0. Its decoder, like nghttp2's, then
        // requires the first header block after the SETTINGS ACK to start with a dynamic table size update (RFC 7541
        // 4.2). It answers each request's HEADERS with ":status: 200" and END_STREAM, after decoding the block.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var blocks = new List<(int StreamId, byte[] Block, string Outcome)>();
        var serving = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            await socket.SendAsync(new byte[] { 0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 }); // SETTINGS: HEADER_TABLE_SIZE 0
            var decoder = new HpackDecoder();
            var received = new List<byte>();
            var buffer = new byte[4096];
            var handled = 0;
            int read;
            while ((read = await socket.ReceiveAsync(buffer)) > 0)
            {
                received.AddRange(buffer.AsSpan(0, read).ToArray());
                var frames = RawFrames(received);
                for (; handled < frames.Count; handled++)
                {
                    var (type, flags, streamId, _, payload) = frames[handled];
                    if (type == 4 && (flags & 1) != 0)
                    {
                        decoder.MaxDynamicTableSize = 0; // the relay acknowledged the SETTINGS
                    }
                    else if (type == 1)
                    {
                        string outcome;
                        try
                        {
                            outcome = string.Join(",", Hpack.Decode(decoder, payload).Select(h => h.Name));
                        }
                        catch (HpackException ex)
                        {
                            outcome = ex.Message;
                        }

                        lock (blocks)
                        {
                            blocks.Add((streamId, payload, outcome));
                        }

                        await socket.SendAsync(new byte[] { 0, 0, 1, 1, 5, 0, 0, 0, (byte)streamId, 0x88 });
                    }
                }
            }
        });
        await using (var harness = await RelayHarness.StartForPortAsync(((IPEndPoint)listener.LocalEndpoint).Port))
        {
            // Act: two calls, one after the other, on the one connection.
            using var first = await harness.Client.PostAsync("/x", new ByteArrayContent([1])).DefaultTimeout();
            using var second = await harness.Client.PostAsync("/y", new ByteArrayContent([2])).DefaultTimeout();

            // Assert: both decoded; only the first block carries the update (0x20: size 0).
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
            lock (blocks)
            {
                Assert.Equal([1, 3], blocks.Select(b => b.StreamId));
                Assert.All(blocks, b => Assert.StartsWith(":method,", b.Outcome, StringComparison.Ordinal));
                Assert.Equal(0x20, blocks[0].Block[0]);
                Assert.NotEqual(0x20, blocks[1].Block[0]);
            }
        }

        await serving.DefaultTimeout();
    }

    [Fact]
    public async Task WindowUpdateOfZeroForAStream_FailsThatCallWithAStreamError_AndTheConnectionStays()
    {
        // Arrange: the next hop answers the request with WINDOW_UPDATE 0 on its stream (RFC 9113 6.9: a stream error).
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var reset = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var serving = ServeRawAsync(listener, [0, 0, 4, 8, 0, 0, 0, 0, 1, 0, 0, 0, 0], reset);
        await using (var harness = await RelayHarness.StartForPortAsync(((IPEndPoint)listener.LocalEndpoint).Port))
        {
            // Act
            using var response = await harness.Client.PostAsync("/x", new ByteArrayContent([1])).DefaultTimeout();
            var (result, exception) = await harness.NextResultAsync();

            // Assert: the call failed, the stream was reset with PROTOCOL_ERROR (1), the connection is still open.
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.Equal(ForwarderError.Request, result.Error);
            Assert.Equal(H2ErrorCode.ProtocolError, FindInChain<H2ProtocolException>(exception)?.Code);
            Assert.Equal(1, await reset.Task.DefaultTimeout());
            var connection = Assert.Single(harness.Pool.Connections);
            Assert.False(connection.Completion.IsCompleted, "a stream error does not close the connection");
        }

        await serving.DefaultTimeout();
    }

    [Fact]
    public async Task ConnectionRefused_IsASocketExceptionClassifiedAsUnreachable()
    {
        // Arrange: a port that was free a moment ago.
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var harness = await RelayHarness.StartForPortAsync(port);

        // Act
        using var response = await harness.Client.PostAsync("/x", new ByteArrayContent([1])).DefaultTimeout();
        var (result, exception) = await harness.NextResultAsync();

        // Assert
        Assert.Equal(ForwarderError.Request, result.Error);
        Assert.NotNull(FindInChain<SocketException>(exception));
        Assert.Equal(GatewayError.NextHopUnreachable, CallForwarder.Classify(result.Error, exception, false, false));
    }

    [Fact]
    public async Task KeepAlive_PingUnanswered_DropsTheConnection()
    {
        // Arrange: a next hop that says SETTINGS and then never answers anything (so no PING ACK either).
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var pinged = TestTcs.Create();
        var serving = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            await socket.SendAsync(new byte[] { 0, 0, 0, (byte)H2FrameType.Settings, 0, 0, 0, 0, 0 });
            var buffer = new byte[4096];
            int read;
            var received = new List<byte>();
            while ((read = await socket.ReceiveAsync(buffer)) > 0)
            {
                received.AddRange(buffer.AsSpan(0, read).ToArray());
                if (ContainsPing(received))
                {
                    pinged.TrySetResult();
                }
            }
        });
        var options = new SiteX.Server.Configuration.SiteXOptions { KeepAlivePingDelay = TimeSpan.FromMilliseconds(200), KeepAlivePingTimeout = TimeSpan.FromMilliseconds(300) };
        await using var harness = await RelayHarness.StartForPortAsync(((IPEndPoint)listener.LocalEndpoint).Port, options);

        // Act: open a connection (and give its slot back: no call on it).
        var connection = await harness.Pool.AcquireAsync(CancellationToken.None).AsTask().DefaultTimeout();
        connection.Unreserve();

        // Assert: a PING went out, and with no answer the connection was dropped.
        await pinged.Task.DefaultTimeout();
        await connection.Completion.DefaultTimeout();
        await Eventually(() => harness.Pool.Connections.Count == 0);
        await serving.DefaultTimeout();
    }

    [Fact]
    public async Task IdleConnection_IsClosedAfterTheIdleTimeout_AndTheNextCallOpensANewOne()
    {
        // Arrange
        var options = new SiteX.Server.Configuration.SiteXOptions { IdleTimeout = TimeSpan.FromMilliseconds(300) };
        await using var harness = await RelayHarness.StartAsync(EchoAsync, options: options);
        using var first = await harness.Client.PostAsync("/echo", new ByteArrayContent([1])).DefaultTimeout();
        var connection = Assert.Single(harness.Pool.Connections);

        // Act
        await connection.Completion.DefaultTimeout();
        using var second = await harness.Client.PostAsync("/echo", new ByteArrayContent([2])).DefaultTimeout();

        // Assert
        Assert.Equal([2], await second.Content.ReadAsByteArrayAsync().DefaultTimeout());
        Assert.DoesNotContain(connection, harness.Pool.Connections);
    }

    [Fact]
    public async Task Call_WithNoBytesMovingForTheIdleTimeout_EndsAsTimedOut()
    {
        // Arrange: a next hop that takes the request and never answers.
        var aborted = TestTcs.Create();
        var options = new SiteX.Server.Configuration.SiteXOptions { IdleTimeout = TimeSpan.FromMilliseconds(400) };
        await using var harness = await RelayHarness.StartAsync(async context =>
        {
            context.RequestAborted.Register(() => aborted.TrySetResult());
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { });
        }, options: options);

        // Act
        using var response = await harness.Client.PostAsync("/silent", new ByteArrayContent([1])).DefaultTimeout();
        var (result, exception) = await harness.NextResultAsync();

        // Assert: timed out (the gateway's NextHopTimeout), and the next hop was told (RST_STREAM).
        Assert.Equal(ForwarderError.RequestTimedOut, result.Error);
        Assert.IsType<TimeoutException>(exception);
        Assert.Equal(GatewayError.NextHopTimeout, CallForwarder.Classify(result.Error, exception, false, false));
        await aborted.Task.DefaultTimeout();
    }

    /// <summary>Whether <paramref name="bytes"/> (the client preface, then frames) hold a PING frame.</summary>
    private static bool ContainsPing(List<byte> bytes)
    {
        var offset = H2Frame.Preface.Length;
        while (bytes.Count - offset >= H2Frame.HeaderLength)
        {
            var (length, type, _, _) = H2Frame.ReadHeader(bytes.Skip(offset).Take(H2Frame.HeaderLength).ToArray());
            if (type == H2FrameType.Ping)
            {
                return true;
            }

            offset += H2Frame.HeaderLength + length;
        }

        return false;
    }

    private static T? FindInChain<T>(Exception? exception) where T : Exception
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is T match)
            {
                return match;
            }
        }

        return null;
    }

    private static async Task Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TaskTimeoutExtensions.DefaultTimeoutTimeSpan;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not become true in time");
            await Task.Delay(10);
        }
    }
}
