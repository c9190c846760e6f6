using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Order;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace SiteX.MicroBenchmarks;

/// <summary>
/// <c>dotnet run -c Release --project benchmarks/SiteX.MicroBenchmarks -- --filter '*'</c>, with BenchmarkDotNet's
/// command line (<c>--filter '*Route*'</c>, <c>--list flat</c>). Without <c>--job</c>, every benchmark runs a short job
/// (one launch, 3 warm-up and 3 measured iterations) inside this process, so the whole set ends within a few minutes
/// on a busy 2-core machine. In-process because BenchmarkDotNet's usual separate process needs a generated project that
/// rebuilds SiteX.Protocol (protoc) and SiteX.Server without the compiler server: over its 2-minute build timeout here.
/// With <c>--job medium --inProcess</c> a longer run uses the same toolchain. The memory diagnoser is always on, and the
/// results are summed up in one table, in the order the benchmarks are declared.
/// </summary>
internal static class Program
{
    public static void Main(string[] args)
    {
        var config = DefaultConfig.Instance
            .AddDiagnoser(MemoryDiagnoser.Default)
            .WithOptions(ConfigOptions.JoinSummary)
            .WithOrderer(new DefaultOrderer(SummaryOrderPolicy.Declared, MethodOrderPolicy.Declared));
        if (!args.Any(a => a is "--job" or "-j"))
        {
            config = config.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
    }
}
