using System.Diagnostics;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>CPU pinning with <c>taskset</c>, when the machine has it and at least two cores.</summary>
internal static class Cpu
{
    public static string? Taskset { get; } = ExecutablePath.Find("taskset");

    public static bool CanPin { get; } = Environment.ProcessorCount >= 2 && Taskset is not null;

    /// <summary>Pins every thread of this process (and the threads they create later) to <paramref name="cpu"/>.</summary>
    public static bool PinSelf(int cpu)
    {
        if (Taskset is null)
        {
            return false;
        }

        using var process = Process.Start(new ProcessStartInfo(Taskset)
        {
            ArgumentList = { "-a", "-p", "-c", cpu.ToString(System.Globalization.CultureInfo.InvariantCulture), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0;
    }
}
