namespace SiteX.IntegrationTests;

/// <summary>Small OSX-format route tables for the tests.</summary>
internal static class RouteTables
{
    /// <summary>A site whose own <paramref name="service"/> is at 127.0.0.1:<paramref name="port"/>.</summary>
    public static string Local(string self, string service, int port) =>
        $$"""
        { "self_party": ["{{self}}"], "route_table": { "{{self}}": { "{{service}}": [{ "ip": "127.0.0.1", "port": {{port}} }] } } }
        """;

    /// <summary>A site sending everything for <paramref name="peer"/> to the peer's gateway at 127.0.0.1:<paramref name="peerPort"/>.</summary>
    public static string ToPeer(string self, string peer, int peerPort) =>
        $$"""
        { "self_party": ["{{self}}"], "route_table": { "{{peer}}": { "default": [{ "ip": "127.0.0.1", "port": {{peerPort}} }] } } }
        """;
}
