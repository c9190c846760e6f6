using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SiteX.Protocol.Ptp;

namespace SiteX.FunctionalTests.Infrastructure;

/// <summary>One request a <see cref="TlsPeer"/> received, with what its TLS connection proved.</summary>
internal sealed record TlsPeerRequest(string Path, string ConnectionId, string? ClientThumbprint, string? ClientSubject, string Protocol);

/// <summary>
/// A stand-in for the TLS port of party <c>Party</c>'s gateway (SiteX's own inbound TLS port is built elsewhere): a
/// real Kestrel on 127.0.0.1 with a given server certificate, asking for a client certificate, serving over HTTP/2 and
/// HTTP/1.1 the sample Echo service, <c>PrivateTransferProtocol.invoke</c> (a pong for <c>/sitex/ping</c>, success for
/// anything else) and the interconnection <c>POST /v1/interconn/chan/invoke</c>. Records every request with the
/// client certificate its connection carried, and the server name (SNI) of every handshake.
/// </summary>
internal sealed class TlsPeer : IAsyncDisposable
{
    public const string PingUri = "/sitex/ping";

    private readonly WebApplication _app;

    private TlsPeer(WebApplication app, int port, string party)
    {
        _app = app;
        Port = port;
        Party = party;
    }

    public int Port { get; }

    public string Party { get; }

    public ConcurrentQueue<TlsPeerRequest> Requests { get; } = new();

    /// <summary>The server name (SNI) of every TLS handshake, "" when the client sent none.</summary>
    public ConcurrentQueue<string> ServerNames { get; } = new();

    /// <summary>Whether a client certificate is accepted (all are by default); a refused one fails the handshake.</summary>
    public Func<X509Certificate2, bool> AcceptClientCertificate { get; set; } = _ => true;

    /// <param name="serverCertificate">Served as is (with its key).</param>
    /// <param name="requireClientCertificate">Require (mutual TLS) or only allow a client certificate.</param>
    public static async Task<TlsPeer> StartAsync(X509Certificate2 serverCertificate, string party, bool requireClientCertificate = true, Action<ILoggingBuilder>? configureLogging = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "TlsPeer" });
        builder.Logging.ClearProviders();
        configureLogging?.Invoke(builder.Logging);
        TlsPeer? peer = null;
        var certificate = OutboundPki.ForServer(serverCertificate);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificateSelector = (_, name) =>
                {
                    peer?.ServerNames.Enqueue(name ?? "");
                    return certificate;
                },
                ClientCertificateMode = requireClientCertificate ? ClientCertificateMode.RequireCertificate : ClientCertificateMode.AllowCertificate,
                ClientCertificateValidation = (client, _, _) => peer!.AcceptClientCertificate(client),
            });
        }));
        builder.Services.AddEchoSample(options => options.Name = "tls-peer-" + party);
        builder.Services.AddSingleton(new PeerInvokeService.PartyName(party));
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            var client = context.Connection.ClientCertificate;
            peer!.Requests.Enqueue(new TlsPeerRequest(context.Request.Path.Value ?? "", context.Connection.Id, client?.Thumbprint, client?.Subject, context.Request.Protocol));
            await next(context);
        });
        app.MapEchoSample();
        app.MapGrpcService<PeerInvokeService>();
        app.MapPost("/v1/interconn/chan/invoke", (HttpContext context) =>
        {
            var uri = context.Request.Headers["x-ptp-uri"].ToString();
            var target = context.Request.Headers["x-ptp-target-node-id"].ToString();
            return Results.Json(uri == PingUri
                ? new { code = "E0000000000", message = $"pong from {target}" }
                : new { code = "E0000000000", message = "success" });
        });
        var port = await LoopbackApp.StartAsync(app);
        peer = new TlsPeer(app, port, party);
        return peer;
    }

    /// <summary>The client certificates seen on requests for <paramref name="path"/> (thumbprints, in order).</summary>
    public IReadOnlyList<string?> ClientThumbprints(string path) => [.. Requests.Where(r => r.Path == path).Select(r => r.ClientThumbprint)];

    public ValueTask DisposeAsync() => LoopbackApp.StopAsync(_app);

    /// <summary>Answers <c>/sitex/ping</c> like SiteX does and anything else with success.</summary>
    private sealed class PeerInvokeService(PeerInvokeService.PartyName party) : PrivateTransferProtocol.PrivateTransferProtocolBase
    {
        public sealed record PartyName(string Value);

        public override Task<Outbound> invoke(Inbound request, ServerCallContext context)
        {
            var uri = context.RequestHeaders.GetValue("x-ptp-uri") ?? "";
            var target = context.RequestHeaders.GetValue("x-ptp-target-node-id") ?? party.Value;
            return Task.FromResult(uri.EndsWith(PingUri, StringComparison.Ordinal)
                ? new Outbound { Code = "E0000000000", Message = $"pong from {target}" }
                : new Outbound { Code = "E0000000000", Message = "success" });
        }
    }
}
