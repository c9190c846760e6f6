using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>A running <c>sitex serve</c> process and its bound ports.</summary>
internal sealed partial class SitexProcess : IDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Environment variables for every sitex child (<c>--gateway-env KEY=VALUE[,KEY=VALUE]</c>), e.g.
    /// <c>DOTNET_gcServer=0</c> to compare GC modes without rebuilding.</summary>
    public static Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    private SitexProcess(ChildProcess process, string directory, int grpcPort, int adminPort, int httpPort, double readyMs)
    {
        Process = process;
        Directory = directory;
        GrpcPort = grpcPort;
        AdminPort = adminPort;
        HttpPort = httpPort;
        ReadyMs = readyMs;
    }

    public ChildProcess Process { get; }

    /// <summary>The scratch directory holding the data directory and route table; removed on dispose.</summary>
    public string Directory { get; }

    public int GrpcPort { get; }

    public int AdminPort { get; }

    /// <summary>The HTTP/1.1 port (interconnection endpoints and forwarded HTTP requests).</summary>
    public int HttpPort { get; }

    /// <summary>Milliseconds from process start to the readiness line.</summary>
    public double ReadyMs { get; }

    public int Id => Process.Id;

    public string RouteTablePath => Path.Combine(Directory, "route_table.json");

    /// <summary>Starts <c>sitex serve</c> on free loopback ports with <paramref name="routeTable"/> (none: embedded defaults);
    /// <paramref name="environment"/> adds to (or overrides) <see cref="Environment"/> for this process only;
    /// <paramref name="dll"/> runs another build of sitex (default: the one copied next to the benchmarks).</summary>
    public static async Task<SitexProcess> StartAsync(string name, string? routeTable, int? cpu = null, string selfParty = "9999", IReadOnlyDictionary<string, string>? environment = null,
        string? dll = null)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory($"sitex-bench-{name}-").FullName;
        var args = new List<string> { "serve", "--grpc-port", "0", "--admin-port", "0", "--http-port", "0", "--bind", "127.0.0.1", "--data-dir", Path.Combine(directory, "data") };
        if (routeTable is not null)
        {
            var path = Path.Combine(directory, "route_table.json");
            await File.WriteAllTextAsync(path, routeTable);
            args.AddRange(["--route-table", path]);
        }
        else
        {
            args.AddRange(["--self-party", selfParty]);
        }

        var env = new Dictionary<string, string>(Environment, StringComparer.Ordinal);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            env[key] = value;
        }

        var process = ChildProcess.StartDotnet(dll ?? ChildProcess.SitexDll, args, cpu, directory, env);
        try
        {
            var (line, timestamp) = await process.WaitForLineAsync("SiteX ready", StartTimeout);
            var match = ReadyPorts().Match(line);
            if (!match.Success)
            {
                throw new InvalidOperationException($"The readiness line does not name the ports: {line}");
            }

            var readyMs = System.Diagnostics.Stopwatch.GetElapsedTime(process.StartTimestamp, timestamp).TotalMilliseconds;
            return new SitexProcess(process, directory, int.Parse(match.Groups["grpc"].Value, CultureInfo.InvariantCulture),
                int.Parse(match.Groups["admin"].Value, CultureInfo.InvariantCulture), int.Parse(match.Groups["http"].Value, CultureInfo.InvariantCulture), readyMs);
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    /// <summary>Replaces the route table file as an operator's tool would: write a temp file, then rename it over.</summary>
    public void ReplaceRouteTable(string json)
    {
        var temp = Path.Combine(Directory, "route_table.json.tmp");
        File.WriteAllText(temp, json, Encoding.UTF8);
        File.Move(temp, RouteTablePath, overwrite: true);
    }

    public void Dispose()
    {
        Process.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a scratch directory under /tmp.
        }
    }

    [GeneratedRegex(@"gRPC on (?<grpcHost>\S+):(?<grpc>\d+), admin on http://(?<adminHost>\S+):(?<admin>\d+).*, HTTP on (?<httpHost>\S+):(?<http>\d+)")]
    private static partial Regex ReadyPorts();
}

/// <summary>OSX-format route tables for the scenarios.</summary>
internal static class RouteTables
{
    /// <summary>A site whose own <paramref name="service"/> is at 127.0.0.1:<paramref name="port"/>.</summary>
    public static string Local(string self, string service, int port) =>
        $$"""{ "self_party": ["{{self}}"], "route_table": { "{{self}}": { "{{service}}": [{ "ip": "127.0.0.1", "port": {{port}} }] } } }""";

    /// <summary>A site sending everything for <paramref name="peer"/> to <paramref name="host"/>:<paramref name="peerPort"/>.</summary>
    public static string ToPeer(string self, string peer, int peerPort, string host = "127.0.0.1") =>
        $$"""{ "self_party": ["{{self}}"], "route_table": { "{{peer}}": { "default": [{ "ip": "{{host}}", "port": {{peerPort}} }] } } }""";

    /// <summary>A site whose own <paramref name="service"/> is the HTTP service at <paramref name="url"/>.</summary>
    public static string LocalHttp(string self, string service, string url) =>
        $$"""{ "self_party": ["{{self}}"], "route_table": { "{{self}}": { "{{service}}": [{ "protocol": "http", "url": "{{url}}" }] } } }""";

    /// <summary>A site sending everything for <paramref name="peer"/> to the peer gateway at <paramref name="url"/>
    /// (its HTTP port: <c>http://host:port/v1/interconn/chan/invoke</c>).</summary>
    public static string ToPeerHttp(string self, string peer, string url) =>
        $$"""{ "self_party": ["{{self}}"], "route_table": { "{{peer}}": { "default": [{ "protocol": "http", "url": "{{url}}" }] } } }""";

    /// <summary>Site 9999 with <paramref name="parties"/> parties (10000, 10001, ...), each with a default route.</summary>
    public static string Many(int parties, int portBase)
    {
        var json = new StringBuilder(parties * 80);
        json.Append("{ \"self_party\": [\"9999\"], \"route_table\": {\n");
        for (var i = 0; i < parties; i++)
        {
            json.Append(CultureInfo.InvariantCulture, $"  \"{10000 + i}\": {{ \"default\": [{{ \"ip\": \"10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}\", \"port\": {1024 + (portBase + i) % 60000} }}] }}");
            json.Append(i + 1 < parties ? ",\n" : "\n");
        }

        json.Append("} }\n");
        return json.ToString();
    }
}
