using System.Text;
using System.Text.Json;

namespace SiteX.Cli.Commands;

/// <summary>
/// The two route tables of <c>sitex demo</c>, in OSX's <c>route_table.json</c> format, so what the user opens is
/// what a real deployment would hold. They are rewritten on every start because the ports change.
/// </summary>
internal static class DemoRouteTables
{
    public const string EchoGrpcService = "sitex.samples.v1.Echo";
    public const string EchoServiceName = "echo";

    /// <summary>Site A: everything for party B goes to B's TLS gRPC port over mutual TLS (A's certificate, the demo CA,
    /// party B pinned); Echo calls without headers are bound to B's echo.</summary>
    public static string ForSiteA(string selfParty, string peerParty, int peerTlsPort, DemoCertificates certificates) =>
        $$"""
        {
          "self_party": ["{{selfParty}}"],
          "route_table": {
            "{{peerParty}}": {
              "default": [{ "ip": "127.0.0.1", "port": {{peerTlsPort}}, "useSSL": true,
                "certChainFile": {{Json(certificates.CertificateFile(selfParty))}},
                "privateKeyFile": {{Json(certificates.KeyFile(selfParty))}},
                "caFile": {{Json(certificates.CaFile)}},
                "peer_party": "{{peerParty}}" }]
            }
          },
          "service_bindings": [
            { "grpc_service": "{{EchoGrpcService}}", "party": "{{peerParty}}", "service": "{{EchoServiceName}}" }
          ]
        }

        """;

    /// <summary>Site B: its own service "echo" is the sample.</summary>
    public static string ForSiteB(string selfParty, int samplePort) =>
        $$"""
        {
          "self_party": ["{{selfParty}}"],
          "route_table": {
            "{{selfParty}}": {
              "{{EchoServiceName}}": [{ "ip": "127.0.0.1", "port": {{samplePort}} }]
            }
          }
        }

        """;

    private static string Json(string path) => JsonSerializer.Serialize(path);

    /// <summary>Writes <paramref name="json"/> to <paramref name="path"/>, creating the directory.</summary>
    public static async Task WriteAsync(string path, string json, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, json, new UTF8Encoding(false), cancellationToken);
    }
}
