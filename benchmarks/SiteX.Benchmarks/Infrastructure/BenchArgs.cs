using System.Globalization;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>Options as <c>--name value</c> pairs and <c>--flag</c> switches.</summary>
internal sealed class BenchArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);

    public static BenchArgs Parse(ReadOnlySpan<string> args)
    {
        var result = new BenchArgs();
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"unexpected argument \"{args[i]}\"; options look like --name value");
            }

            var hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            result._values[args[i][2..]] = hasValue ? args[++i] : null;
        }

        return result;
    }

    public int Int(string name, int defaultValue) =>
        _values.TryGetValue(name, out var text) && text is not null ? int.Parse(text, CultureInfo.InvariantCulture) : defaultValue;

    public string String(string name, string defaultValue) =>
        _values.TryGetValue(name, out var text) && text is not null ? text : defaultValue;

    public bool Flag(string name) => _values.ContainsKey(name);

    /// <summary>An environment option, <c>--name KEY=VALUE[,KEY=VALUE]</c>; empty when absent.</summary>
    public Dictionary<string, string> Environment(string name) =>
        String(name, "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair.Length > 1 ? pair[1] : "", StringComparer.Ordinal);
}
