using SiteX.Tests.Common;
using Xunit.Abstractions;

namespace SiteX.IntegrationTests;

/// <summary>
/// Gives each test a temp directory and tracks the processes it starts: on dispose every process still running is
/// killed and each one's output goes to the test log, so a failure shows what the CLI printed.
/// </summary>
public abstract class ProcessTestBase(ITestOutputHelper output) : IDisposable
{
    private readonly List<SiteXProcess> _processes = [];

    protected ITestOutputHelper Output { get; } = output;

    protected TempDirectory Temp { get; } = new("sitex-it-");

    /// <summary>Starts <c>sitex</c> in its own working directory <c>TEMP/<paramref name="name"/></c>.</summary>
    protected SiteXProcess StartSitex(string name, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var workingDirectory = Temp.Combine(name);
        Directory.CreateDirectory(workingDirectory);
        var process = SiteXProcess.Start(workingDirectory, args, environment);
        _processes.Add(process);
        return process;
    }

    /// <summary>Writes <paramref name="content"/> to <c>TEMP/<paramref name="name"/></c> and returns the full path.</summary>
    protected string WriteFile(string name, string content)
    {
        var path = Temp.Combine(name);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
            try
            {
                Output.WriteLine(process.Describe());
            }
            catch (InvalidOperationException)
            {
                // The test already ended.
            }
        }

        Temp.Dispose();
        GC.SuppressFinalize(this);
    }
}
