using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>
/// A child process (<c>dotnet X.dll ...</c>, optionally under <c>taskset -c CPU</c>) whose standard output is read
/// line by line, so the caller can wait for a readiness line. Dispose sends SIGTERM, then kills what is left.
/// </summary>
internal sealed partial class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly StringBuilder _output = new();
    private readonly List<(string Text, TaskCompletionSource<(string Line, long Timestamp)> Found)> _waiters = [];

    private ChildProcess(Process process, string description)
    {
        _process = process;
        Description = description;
    }

    public string Description { get; }

    public int Id => _process.Id;

    /// <summary>The <see cref="Stopwatch"/> timestamp taken just before the process was started.</summary>
    public long StartTimestamp { get; private set; }

    public bool HasExited => _process.HasExited;

    /// <summary>The <c>sitex.dll</c> the project reference copied next to the benchmarks.</summary>
    public static string SitexDll => Beside("sitex.dll");

    /// <summary>This benchmark program's own dll, to run it again in <c>sample</c> mode.</summary>
    public static string BenchmarksDll => Beside("SiteX.Benchmarks.dll");

    /// <summary>Starts <c>dotnet <paramref name="dll"/> <paramref name="args"/></c>, pinned to <paramref name="cpu"/> when given.</summary>
    public static ChildProcess StartDotnet(string dll, IEnumerable<string> args, int? cpu = null, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null) =>
        Start(SiteX.Shared.SiteXChildProcess.DotnetHost(), [dll, .. args], cpu, workingDirectory, environment, Path.GetFileName(dll));

    /// <summary>
    /// Starts <paramref name="program"/> with <paramref name="args"/>, pinned to <paramref name="cpu"/> when given
    /// (<c>taskset -c CPU</c> execs the program: the child keeps this process id). <paramref name="name"/> names it in
    /// messages (default: the program's file name).
    /// </summary>
    public static ChildProcess Start(string program, IReadOnlyList<string> args, int? cpu = null, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null, string? name = null)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        if (cpu is { } pinned && Cpu.Taskset is { } taskset)
        {
            info.FileName = taskset;
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(pinned.ToString(System.Globalization.CultureInfo.InvariantCulture));
            info.ArgumentList.Add(program);
        }
        else
        {
            info.FileName = program;
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        SiteX.Shared.SiteXChildProcess.PrepareEnvironment(info, environment);

        var process = new Process { StartInfo = info };
        var child = new ChildProcess(process, $"{name ?? Path.GetFileName(program)} {string.Join(' ', args.Skip(name is null ? 0 : 1))}");
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data is null ? null : "stderr: " + e.Data);
        child.StartTimestamp = Stopwatch.GetTimestamp();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits for a line containing <paramref name="text"/>; returns it and the timestamp it was read at.</summary>
    public async Task<(string Line, long Timestamp)> WaitForLineAsync(string text, TimeSpan timeout)
    {
        var found = new TaskCompletionSource<(string, long)>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _waiters.Add((text, found));
        }

        var first = await Task.WhenAny(found.Task, _process.WaitForExitAsync(), Task.Delay(timeout));
        if (first == found.Task)
        {
            return await found.Task;
        }

        throw new InvalidOperationException($"{Description} printed no line containing \"{text}\" within {timeout.TotalSeconds} s (exited: {_process.HasExited}).{Environment.NewLine}{Output}");
    }

    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Sends SIGTERM and waits up to <paramref name="timeout"/> for the exit; kills the process after that.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return;
        }

        _ = SiteX.Shared.SiteXChildProcess.SendSigterm(_process.Id);
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _ = SiteX.Shared.SiteXChildProcess.SendSigterm(_process.Id);
                if (!_process.WaitForExit(5_000))
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(5_000);
                }
            }
        }
        catch (InvalidOperationException)
        {
            // Never started, or already reaped.
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        var timestamp = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            _output.Append(line).Append('\n');
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (line.Contains(_waiters[i].Text, StringComparison.Ordinal))
                {
                    _waiters[i].Found.TrySetResult((line, timestamp));
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private static string Beside(string file)
    {
        var path = Path.Combine(AppContext.BaseDirectory, file);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{file} is not next to the benchmarks in {AppContext.BaseDirectory}; build with -c Release first", path);
    }
}
