namespace SiteX.Server.Routing;

/// <summary>A route table that cannot be used; <see cref="Errors"/> lists every problem with its path and fix.</summary>
public sealed class RouteTableException : Exception
{
    public RouteTableException(string source, IReadOnlyList<RouteTableError> errors)
        : base(Format(source, errors))
    {
        Source = source;
        Errors = errors;
    }

    public new string Source { get; }

    public IReadOnlyList<RouteTableError> Errors { get; }

    private static string Format(string source, IReadOnlyList<RouteTableError> errors) =>
        $"route table {source} has {errors.Count} error(s):{Environment.NewLine}" +
        string.Join(Environment.NewLine, errors.Select(e => "  " + e));
}
