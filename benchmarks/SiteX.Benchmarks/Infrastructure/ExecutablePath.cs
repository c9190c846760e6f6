namespace SiteX.Benchmarks.Infrastructure;

/// <summary>Finds a program as a shell would: on PATH, then in the sbin directories a non-root PATH may lack.</summary>
internal static class ExecutablePath
{
    private static readonly string[] s_fallback = ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"];

    /// <summary>The full path of <paramref name="name"/>, or null when it is not installed.</summary>
    public static string? Find(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(s_fallback))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
