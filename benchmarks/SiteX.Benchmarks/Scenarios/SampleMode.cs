using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using SiteX.Benchmarks.Infrastructure;
using SiteX.Samples;

namespace SiteX.Benchmarks.Scenarios;

/// <summary>
/// <c>sample</c>: runs the Echo sample in this process until SIGTERM, after printing <c>Sample ready: port N</c>.
/// The scenarios start it as a child so its memory and CPU are not mixed with the load generator's.
/// </summary>
internal static partial class SampleMode
{
    private const string ReadyText = "Sample ready: port ";

    public static async Task<int> RunAsync(BenchArgs options)
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stopped.TrySetResult();
        });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            stopped.TrySetResult();
        });

        if (options.Flag("raw"))
        {
            var (app, port) = await RawEchoHost.StartAsync();
            await using var _ = app;
            Console.WriteLine(ReadyText + port.ToString(CultureInfo.InvariantCulture));
            await stopped.Task;
            await app.StopAsync();
            return 0;
        }

        await using var sample = await SampleHost.StartAsync(options.String("name", "echo"));
        Console.WriteLine(ReadyText + sample.Port.ToString(CultureInfo.InvariantCulture));
        await stopped.Task;
        return 0;
    }

    /// <summary>Starts this program again in <c>sample</c> mode (with <paramref name="raw"/>, the framework-free
    /// <see cref="RawEchoHost"/>) and returns the child and its port.</summary>
    public static async Task<(ChildProcess Process, int Port)> StartChildAsync(string name, int? cpu = null, bool raw = false)
    {
        var child = ChildProcess.StartDotnet(ChildProcess.BenchmarksDll, raw ? ["sample", "--raw"] : ["sample", "--name", name], cpu);
        try
        {
            var (line, _) = await child.WaitForLineAsync(ReadyText, SitexProcess.StartTimeout);
            return (child, int.Parse(PortPattern().Match(line).Groups[1].Value, CultureInfo.InvariantCulture));
        }
        catch
        {
            child.Dispose();
            throw;
        }
    }

    [GeneratedRegex(@"port (\d+)")]
    private static partial Regex PortPattern();
}
