using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using SiteX.FunctionalTests.Infrastructure;
using SiteX.Protocol;
using SiteX.Protocol.Eggroll.Proxy;
using SiteX.Protocol.Ptp;
using SiteX.Samples.V1;
using Xunit.Abstractions;
using Metadata = Grpc.Core.Metadata;
using PacketMetadata = SiteX.Protocol.Eggroll.Proxy.Metadata;
using Task = System.Threading.Tasks.Task;

namespace SiteX.FunctionalTests.Security;

/// <summary>One running gateway (party 9999) shared by the hostile-name cases, and what its directories held at start.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the fixture through IAsyncLifetime.DisposeAsync")]
public sealed class HostileNamesFixture : IAsyncLifetime
{
    private TestCluster? _cluster;

    internal TestGateway Gateway { get; private set; } = null!;

    internal TestCluster Cluster => _cluster!;

    /// <summary>Every file and directory under the test's temp root when the gateway had started.</summary>
    internal HashSet<string> EntriesAtStart { get; private set; } = [];

    internal string Root => _cluster!.Temp.Path;

    public async Task InitializeAsync()
    {
        _cluster = new TestCluster(new NullOutput());
        Gateway = await _cluster.StartGatewayAsync("A", "9999", RouteJson.Osx("9999"));
        EntriesAtStart = Entries();
    }

    internal HashSet<string> Entries() =>
        [.. Directory.EnumerateFileSystemEntries(Root, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(Root, p))];

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    private sealed class NullOutput : ITestOutputHelper
    {
        public void WriteLine(string message)
        {
        }

        public void WriteLine(string format, params object[] args)
        {
        }
    }
}

/// <summary>
/// Topic, session and party names that try to escape or confuse (<c>../x</c>, slashes, NUL and other control
/// characters, 10 KiB ids) on every ingress that takes one: each is refused with a clear error (or, where a header
/// cannot even carry the character, by the HTTP stack before it reaches SiteX), nothing is stored, and nothing
/// appears on disk.
/// </summary>
public sealed class HostileNameTests(HostileNamesFixture fixture, ITestOutputHelper output) : IClassFixture<HostileNamesFixture>
{
    private const string Party = "9999";
    private const string Session = "session-hostile";
    private const int RouteTableRejectedEventId = 1001;

    private static readonly Dictionary<string, string> s_names = new()
    {
        ["dot-dot-slash"] = "../x",
        ["slash"] = "a/b",
        ["backslash"] = "a\\b",
        ["nul"] = "a\0b",
        ["control"] = "a\u0001b",
        ["10KiB"] = new string('n', 10 * 1024),
    };

    /// <summary>Every ingress that takes a name, and whether the name travels in a header (where a control character
    /// may be refused by the HTTP stack before SiteX sees it).</summary>
    private static readonly Dictionary<string, bool> s_ingresses = new()
    {
        ["grpc push topic"] = false,
        ["grpc push session"] = true,
        ["grpc push target"] = true,
        ["grpc pop topic"] = false,
        ["grpc release session"] = true,
        ["http push topic"] = false,
        ["http push session"] = true,
        ["http pop topic"] = false,
        ["http invoke target"] = true,
        ["http invoke push topic"] = false,
        ["grpc invoke target"] = true,
        ["grpc invoke push topic"] = false,
        ["pass-through target"] = true,
        ["pass-through source"] = true,
        ["http forward target"] = true,
        ["packet dst party"] = false,
        ["packet src party"] = false,
        ["route table party key"] = false,
        ["admin release session"] = false,
    };

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var ingress in s_ingresses.Keys)
        {
            foreach (var name in s_names.Keys)
            {
                data.Add(ingress, name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task HostileName_OnEveryIngress_IsRefusedAndNothingReachesTheDisk(string ingress, string nameKind)
    {
        // Arrange
        var name = s_names[nameKind];
        var gateway = fixture.Gateway;
        var version = gateway.Routes.Current.Version;

        // Act
        var outcome = await SendAsync(ingress, name);
        output.WriteLine($"{ingress} with {nameKind}: {outcome}");

        // Assert: refused with SiteX's clear error, or (a control character in a header) by the HTTP stack.
        var carriedInHeader = s_ingresses[ingress];
        var transportMayRefuse = carriedInHeader && name.Any(char.IsControl);
        if (outcome.Transport)
        {
            Assert.True(transportMayRefuse, $"{ingress} with {nameKind} failed in transport, not with SiteX's error: {outcome}");
        }
        else
        {
            Assert.True(outcome.Refused, $"{ingress} with {nameKind} was not refused: {outcome}");
            Assert.True(outcome.Text.Contains(outcome.Expect, StringComparison.Ordinal), $"{ingress} with {nameKind}: expected \"{outcome.Expect}\" in: {outcome}");
            Assert.DoesNotContain("\0", outcome.Text, StringComparison.Ordinal);
            Assert.True(outcome.Text.Length < 2048, $"the error echoes too much: {outcome.Text.Length} characters");
        }

        Assert.Empty(gateway.Queues.Snapshot());
        if (ingress != "route table party key")
        {
            Assert.Equal(version, gateway.Routes.Current.Version); // (that case checks its own versions)
        }

        var created = fixture.Entries().Except(fixture.EntriesAtStart).ToList();
        Assert.True(created.Count == 0, $"new entries on disk: {string.Join(", ", created)}");
        Assert.False(Path.Exists(Path.Combine(fixture.Root, "x")) || Path.Exists(Path.Combine(fixture.Root, "A", "x")));
        fixture.Cluster.AssertNoUnexpectedErrors(RouteTableRejectedEventId);
    }

    /// <summary>What came back: refused by SiteX (with the text of its answer and what that text must contain), or
    /// failed in the HTTP stack (<see cref="Transport"/>).</summary>
    private sealed record Outcome(bool Refused, string Text, string Expect, bool Transport = false)
    {
        public override string ToString() => $"{(Transport ? "transport failure" : Refused ? "refused" : "ACCEPTED")}: {(Text.Length > 300 ? Text[..300] + "..." : Text)}";
    }

    private async Task<Outcome> SendAsync(string ingress, string name)
    {
        var gateway = fixture.Gateway;
        try
        {
            switch (ingress)
            {
                case "grpc push topic":
                    return FromTransport(await Push(Headers(), new PushInbound { Topic = name, Payload = ByteString.CopyFromUtf8("m") }), "topic");
                case "grpc push session":
                    return FromTransport(await Push(Headers(session: name), new PushInbound { Topic = "t", Payload = ByteString.CopyFromUtf8("m") }), "session id");
                case "grpc push target":
                    return FromTransport(await Push(Headers(target: name), new PushInbound { Topic = "t", Payload = ByteString.CopyFromUtf8("m") }), "not a valid party id");
                case "grpc pop topic":
                    return FromTransport(await Client().popAsync(new PopInbound { Topic = name, Timeout = 10 }, Headers(target: null), TestCluster.Deadline()).ResponseAsync.DefaultTimeout(), "topic");
                case "grpc release session":
                    return FromTransport(await Client().releaseAsync(new ReleaseInbound(), Headers(session: name, target: null), TestCluster.Deadline()).ResponseAsync.DefaultTimeout(), "session id");
                case "http push topic":
                    return await Chan("push", JsonSerializer.Serialize(new { topic = name, payload = "AQID" }), Session, ("x-ptp-target-node-id", Party), "topic");
                case "http push session":
                    return await Chan("push", JsonSerializer.Serialize(new { topic = "t", payload = "AQID" }), name, ("x-ptp-target-node-id", Party), "session id");
                case "http pop topic":
                    return await Chan("pop", JsonSerializer.Serialize(new { topic = name, timeout = 10 }), Session, ("x-ptp-trace-id", "1"), "topic");
                case "http invoke target":
                    return await Chan("invoke", JsonSerializer.Serialize(new { payload = "AQID" }), Session, ("x-ptp-target-node-id", name), "not a valid party id", ("x-ptp-uri", PtpMethods.Push));
                case "http invoke push topic":
                    return await Chan("invoke", JsonSerializer.Serialize(new { payload = Convert.ToBase64String(new PushInbound { Topic = name, Payload = ByteString.CopyFromUtf8("m") }.ToByteArray()) }),
                        Session, ("x-ptp-target-node-id", Party), "topic", ("x-ptp-uri", PtpMethods.Push));
                case "grpc invoke target":
                    return FromInvoke(await InvokeAsync(name, new PushInbound { Topic = "t", Payload = ByteString.CopyFromUtf8("m") }), "not a valid party id");
                case "grpc invoke push topic":
                    return FromInvoke(await InvokeAsync(Party, new PushInbound { Topic = name, Payload = ByteString.CopyFromUtf8("m") }), "topic");
                case "pass-through target":
                    return await EchoAsync(new Metadata { { PtpHeaders.TargetNodeId, name } }, "not a valid party id");
                case "pass-through source":
                    return await EchoAsync(new Metadata { { PtpHeaders.TargetNodeId, Party }, { PtpHeaders.SourceNodeId, name } }, "not a valid party id");
                case "http forward target":
                    return await ForwardAsync(name);
                case "packet dst party":
                    return await PacketAsync(dst: name, src: "10000");
                case "packet src party":
                    return await PacketAsync(dst: Party, src: name);
                case "route table party key":
                    return await RouteTableAsync(name);
                case "admin release session":
                    return await AdminReleaseAsync(name);
                default:
                    throw new ArgumentOutOfRangeException(nameof(ingress), ingress, null);
            }
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.Internal or StatusCode.Unavailable or StatusCode.Unknown)
        {
            return new Outcome(true, $"{ex.StatusCode} {ex.Status.Detail}", "", Transport: true);
        }
        catch (HttpRequestException ex)
        {
            return new Outcome(true, ex.Message, "", Transport: true);
        }
        catch (InvalidOperationException ex) when (ex.Message.Contains("header", StringComparison.OrdinalIgnoreCase))
        {
            return new Outcome(true, ex.Message, "", Transport: true);
        }

        PrivateTransferTransport.PrivateTransferTransportClient Client() => new(fixture.Cluster.Channel(gateway));

        Task<TransportOutbound> Push(Metadata headers, PushInbound push) =>
            Client().pushAsync(push, headers, TestCluster.Deadline()).ResponseAsync.DefaultTimeout();

        Task<Outbound> InvokeAsync(string target, PushInbound push) =>
            new PrivateTransferProtocol.PrivateTransferProtocolClient(fixture.Cluster.Channel(gateway))
                .invokeAsync(new Inbound { Payload = push.ToByteString() }, Headers(target: target, uri: PtpMethods.OsxPushUri), TestCluster.Deadline()).ResponseAsync.DefaultTimeout();
    }

    private static Metadata Headers(string session = Session, string? target = Party, string? uri = null)
    {
        var headers = new Metadata { { PtpHeaders.TechProviderCode, "FATE" }, { PtpHeaders.SessionId, session }, { PtpHeaders.FromNodeId, Party } };
        if (target is not null)
        {
            headers.Add(PtpHeaders.TargetNodeId, target);
        }

        if (uri is not null)
        {
            headers.Add(PtpHeaders.Uri, uri);
        }

        return headers;
    }

    private static Outcome FromTransport(TransportOutbound reply, string expect) =>
        new(reply.Code == PtpCodes.InvalidRequest, $"{reply.Code} {reply.Message}", expect);

    private static Outcome FromInvoke(Outbound reply, string expect) =>
        new(reply.Code == PtpCodes.InvalidRequest, $"{reply.Code} {reply.Message}", expect);

    private async Task<Outcome> Chan(string operation, string json, string session, (string Name, string Value) header, string expect, params (string Name, string Value)[] more)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"http://127.0.0.1:{fixture.Gateway.HttpPort}/v1/interconn/chan/{operation}"))
        {
            Content = HttpChanClient.Json(json),
        };
        request.Headers.TryAddWithoutValidation(PtpHeaders.SessionId, session);
        request.Headers.TryAddWithoutValidation(header.Name, header.Value);
        foreach (var (name, value) in more)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await http.SendAsync(request).DefaultTimeout();
        var body = await response.Content.ReadAsStringAsync();
        if (KestrelRefused(response, body))
        {
            return new Outcome(true, $"{(int)response.StatusCode} (refused by Kestrel before SiteX)", "", Transport: true);
        }

        var refused = response.StatusCode == HttpStatusCode.BadRequest
            || (response.StatusCode == HttpStatusCode.OK && body.Contains("\"E0000000400\"", StringComparison.Ordinal));
        return new Outcome(refused, $"{(int)response.StatusCode} {body}", expect);
    }

    /// <summary>Kestrel's own 400 for a request it cannot parse (a NUL in a header value): no body, no SiteX header.</summary>
    private static bool KestrelRefused(HttpResponseMessage response, string body) =>
        response.StatusCode == HttpStatusCode.BadRequest && body.Length == 0 && !response.Headers.Contains("x-sitex-error");

    private async Task<Outcome> EchoAsync(Metadata headers, string expect)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => fixture.Cluster.EchoClient(fixture.Gateway)
            .UnaryAsync(new EchoRequest(), headers, TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        if (ex.StatusCode is StatusCode.Internal or StatusCode.Unavailable or StatusCode.Unknown)
        {
            throw ex;
        }

        return new Outcome(ex.StatusCode == StatusCode.InvalidArgument && ex.Trailers.GetValue("x-sitex-error") == "bad_request", $"{ex.StatusCode} {ex.Status.Detail}", expect);
    }

    private async Task<Outcome> ForwardAsync(string target)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://127.0.0.1:{fixture.Gateway.HttpPort}/api/items"));
        request.Headers.TryAddWithoutValidation(PtpHeaders.TargetNodeId, target);
        using var response = await http.SendAsync(request).DefaultTimeout();
        var body = await response.Content.ReadAsStringAsync();
        if (KestrelRefused(response, body))
        {
            return new Outcome(true, $"{(int)response.StatusCode} (refused by Kestrel before SiteX)", "", Transport: true);
        }

        return new Outcome(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {body}", "not a valid party id");
    }

    private async Task<Outcome> PacketAsync(string dst, string src)
    {
        var packet = new Packet
        {
            Header = new PacketMetadata
            {
                Src = new Topic { PartyId = src, Role = "fateflow", Name = "job" },
                Dst = new Topic { PartyId = dst, Role = "fateflow", Name = "job" },
            },
            Body = new Data { Key = "k", Value = ByteString.CopyFromUtf8("v") },
        };
        var ex = await Assert.ThrowsAsync<RpcException>(() => new DataTransferService.DataTransferServiceClient(fixture.Cluster.Channel(fixture.Gateway))
            .unaryCallAsync(packet, new Metadata(), TestCluster.Deadline()).ResponseAsync.DefaultTimeout());
        return new Outcome(ex.StatusCode == StatusCode.InvalidArgument, $"{ex.StatusCode} {ex.Status.Detail}", "not a valid party id");
    }

    private async Task<Outcome> RouteTableAsync(string party)
    {
        var gateway = fixture.Gateway;
        var before = gateway.Routes.Current.Version;
        var rejected = gateway.Logs.WaitForAsync(e => e.EventId.Id == RouteTableRejectedEventId);
        var table = new Dictionary<string, object>
        {
            ["route_table"] = new Dictionary<string, object> { [party] = new { @default = new[] { new { ip = "127.0.0.1", port = 9370 } } } },
            ["self_party"] = new[] { Party },
        };
        gateway.WriteRouteTable(JsonSerializer.Serialize(table));
        await rejected.DefaultTimeout();
        var errors = string.Join("; ", gateway.Routes.LastErrors);
        Assert.Equal(before, gateway.Routes.Current.Version);

        // Put the good table back (its content differs from the refused one, so it is re-read and accepted).
        var version = gateway.Routes.Current.Version;
        gateway.WriteRouteTable(RouteJson.Osx(Party));
        await Eventually.ReturnsAsync(() => Task.FromResult(gateway.Routes.LastErrors.Count), count => count == 0, "the good table re-read");
        Assert.Equal(version + 1, gateway.Routes.Current.Version);
        return new Outcome(errors.Length > 0, errors, "is not a valid party id");
    }

    private async Task<Outcome> AdminReleaseAsync(string session)
    {
        using var admin = fixture.Gateway.AdminClient();
        using var response = await admin.PostAsJsonAsync("/v1/queues/release", new { session }).DefaultTimeout();
        var body = await response.Content.ReadAsStringAsync();
        return new Outcome(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {body}", "must be queue names");
    }
}
