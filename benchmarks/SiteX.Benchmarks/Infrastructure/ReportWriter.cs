using System.Text;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>
/// Writes a scenario's Markdown report to standard output as it goes and keeps a copy, saved to a file at the end
/// (<c>--out FILE</c>), so a long run's results survive a scrolled-away terminal.
/// </summary>
internal sealed class ReportWriter(string? path)
{
    private readonly StringBuilder _text = new();

    public void Line(string line = "")
    {
        Console.WriteLine(line);
        _text.Append(line).Append('\n');
    }

    public void Table(MarkdownTable table)
    {
        Line();
        var text = table.ToString();
        Console.Write(text);
        _text.Append(text);
        Line();
    }

    /// <summary>Writes what was reported so far to the file, when one was given.</summary>
    public void Save()
    {
        if (path is not null)
        {
            File.WriteAllText(path, _text.ToString());
            Console.Error.WriteLine($"report written to {Path.GetFullPath(path)}");
        }
    }
}
