using System.Text;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>A Markdown table printed to standard output, ready to paste into docs/benchmarks.md.</summary>
internal sealed class MarkdownTable(params string[] columns)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string[] cells) => _rows.Add(cells);

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append("| ").AppendJoin(" | ", columns).Append(" |\n");
        text.Append('|').AppendJoin('|', columns.Select(_ => "---")).Append("|\n");
        foreach (var row in _rows)
        {
            text.Append("| ").AppendJoin(" | ", row).Append(" |\n");
        }

        return text.ToString();
    }

    public void Print()
    {
        Console.WriteLine();
        Console.Write(ToString());
        Console.WriteLine();
    }
}
