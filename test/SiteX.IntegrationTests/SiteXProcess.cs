using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using SiteX.Tests.Common;

namespace SiteX.IntegrationTests;

/// <summary>
/// The real <c>sitex</c> CLI as a child process (<c>dotnet sitex.dll ...</c>, the copy built next to these tests).
/// Standard output and error are collected as they arrive; a test waits for a line, sends SIGTERM, waits for the
/// exit. Dispose kills the process tree if it is still running.
/// </summary>
public sealed partial class SiteXProcess : IDisposable
{
    /// <summary>How long a process may take to print a line the test waits for: generous for busy 2-core CI machines.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly List<(string Text, TaskCompletionSource<string> Found)> _waiters = [];
    private readonly TaskCompletionSource _stdoutClosed = TestTcs.Create();
    private readonly TaskCompletionSource _stderrClosed = TestTcs.Create();

    private SiteXProcess(Process process, string arguments)
    {
        _process = process;
        Arguments = arguments;
    }

    /// <summary>The command line after <c>sitex</c>, for failure messages.</summary>
    public string Arguments { get; }

    public int Id => _process.Id;

    /// <summary>When the process was started (a <see cref="Stopwatch"/> timestamp).</summary>
    public long StartTimestamp { get; private set; }

    public string StandardOutput
    {
        get
        {
            lock (_gate)
            {
                return _stdout.ToString();
            }
        }
    }

    public string StandardError
    {
        get
        {
            lock (_gate)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Starts <c>sitex</c> with <paramref name="args"/> in <paramref name="workingDirectory"/>. The child gets no
    /// <c>SITEX_*</c> variables of the test run, only those in <paramref name="environment"/>.</summary>
    public static SiteXProcess Start(string workingDirectory, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(SiteX.Shared.SiteXChildProcess.DotnetHost())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(CliPath);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        SiteX.Shared.SiteXChildProcess.PrepareEnvironment(info, environment);

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new SiteXProcess(process, string.Join(' ', args));
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data, isError: false);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data, isError: true);
        child.StartTimestamp = Stopwatch.GetTimestamp();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>The <c>sitex.dll</c> copied next to this test assembly by the project reference.</summary>
    public static string CliPath
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "sitex.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"sitex.dll is not next to the tests in {AppContext.BaseDirectory}; build the solution first", path);
        }
    }

    /// <summary>Waits for a line of standard output containing <paramref name="text"/> and returns it.</summary>
    public async Task<string> WaitForOutputAsync(string text, TimeSpan? timeout = null)
    {
        var found = TestTcs.Create<string>();
        lock (_gate)
        {
            var existing = _stdout.ToString().Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
            if (existing is not null)
            {
                return existing.TrimEnd('\r');
            }

            _waiters.Add((text, found));
        }

        var exited = _process.WaitForExitAsync();
        var limit = timeout ?? StartTimeout;
        var first = await Task.WhenAny(found.Task, exited, Task.Delay(limit));
        if (first == found.Task)
        {
            return await found.Task;
        }

        if (first == exited)
        {
            await DrainAsync();
            if (found.Task.IsCompleted)
            {
                return await found.Task;
            }

            throw new InvalidOperationException($"sitex exited with code {_process.ExitCode} before printing \"{text}\".{Environment.NewLine}{Describe()}");
        }

        throw new TimeoutException($"sitex printed no line containing \"{text}\" within {limit.TotalSeconds} s.{Environment.NewLine}{Describe()}");
    }

    /// <summary>Waits for the process to exit (all output read) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? StartTimeout;
        try
        {
            await _process.WaitForExitAsync().WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"sitex did not exit within {limit.TotalSeconds} s.{Environment.NewLine}{Describe()}");
        }

        await DrainAsync();
        return _process.ExitCode;
    }

    /// <summary>Sends SIGTERM, as a service manager or <c>docker stop</c> does (<see cref="Process.Kill()"/> is SIGKILL).</summary>
    public void Terminate()
    {
        if (SiteX.Shared.SiteXChildProcess.SendSigterm(_process.Id) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed with errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Kills the process tree without warning: SIGKILL on Linux, like <c>kill -9</c> (no shutdown, no flush).
    /// Returns once the process is gone.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Everything known about the process, for a failure message.</summary>
    public string Describe()
    {
        var exit = _process.HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "still running";
        return $"sitex {Arguments} (pid {_process.Id}, exit: {exit}){Environment.NewLine}--- stdout ---{Environment.NewLine}{StandardOutput}--- stderr ---{Environment.NewLine}{StandardError}--- end ---";
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Not started or already gone.
        }

        _process.Dispose();
    }

    /// <summary>Parses the readiness line of <c>sitex serve</c>: "gRPC on ADDRESS:PORT, admin on http://ADDRESS:PORT".</summary>
    public static (int GrpcPort, int AdminPort) ParseReadyPorts(string line)
    {
        var match = ReadyPorts().Match(line);
        Assert.True(match.Success, $"The readiness line does not name the ports: {line}");
        return (int.Parse(match.Groups["grpc"].Value, System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(match.Groups["admin"].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    private async Task DrainAsync()
    {
        // Exit can be observed before the last redirected lines are delivered.
        await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(TimeSpan.FromSeconds(10));
    }

    private void OnLine(string? line, bool isError)
    {
        if (line is null)
        {
            (isError ? _stderrClosed : _stdoutClosed).TrySetResult();
            return;
        }

        lock (_gate)
        {
            (isError ? _stderr : _stdout).Append(line).Append('\n');
            if (isError)
            {
                return;
            }

            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (line.Contains(_waiters[i].Text, StringComparison.Ordinal))
                {
                    _waiters[i].Found.TrySetResult(line);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    [GeneratedRegex(@"gRPC on (?<grpcHost>\S+):(?<grpc>\d+), admin on http://(?<adminHost>\S+):(?<admin>\d+)")]
    private static partial Regex ReadyPorts();
}
