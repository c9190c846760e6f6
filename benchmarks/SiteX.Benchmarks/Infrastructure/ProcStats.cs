using System.Globalization;
using System.Runtime.InteropServices;

namespace SiteX.Benchmarks.Infrastructure;

/// <summary>Memory and CPU time of a Linux process, read from <c>/proc/PID</c>.</summary>
internal static partial class ProcStats
{
    private const int ScClkTck = 2;
    private static readonly double s_ticksPerSecond = ReadTicksPerSecond();

    /// <summary>Current resident set size (VmRSS) in bytes.</summary>
    public static long Rss(int pid) => StatusKiB(pid, "VmRSS:") * 1024;

    /// <summary>Peak resident set size (VmHWM) in bytes, since start or the last <see cref="ResetPeak"/>.</summary>
    public static long Hwm(int pid) => StatusKiB(pid, "VmHWM:") * 1024;

    /// <summary>Resets VmHWM to the current RSS (writes 5 to <c>/proc/PID/clear_refs</c>, Linux 4.0+, own processes only).</summary>
    public static bool ResetPeak(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>User plus system CPU time the process has used so far.</summary>
    public static TimeSpan CpuTime(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the command name, which is in parentheses and may contain spaces: state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / s_ticksPerSecond);
    }

    /// <summary>
    /// User plus system CPU time of <paramref name="pid"/> and all its descendants alive now (e.g. an nginx master and
    /// its workers). A descendant that exited takes its CPU time with it, so call this on a stable process tree.
    /// </summary>
    public static TimeSpan TreeCpuTime(int pid)
    {
        var total = TimeSpan.Zero;
        foreach (var member in Tree(pid))
        {
            try
            {
                total += CpuTime(member);
            }
            catch (IOException)
            {
                // Exited between the listing and the read.
            }
        }

        return total;
    }

    /// <summary><paramref name="pid"/> and its descendants, from the parent ids in every <c>/proc/PID/stat</c>.</summary>
    public static IReadOnlyList<int> Tree(int pid)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var dir in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                // After "(comm) ": state is the first field, the parent id the second.
                var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ', 3)[1], CultureInfo.InvariantCulture);
                if (!children.TryGetValue(parent, out var list))
                {
                    children[parent] = list = [];
                }

                list.Add(id);
            }
            catch (IOException)
            {
                // Exited while listing.
            }
        }

        var tree = new List<int> { pid };
        for (var i = 0; i < tree.Count; i++)
        {
            if (children.TryGetValue(tree[i], out var list))
            {
                tree.AddRange(list);
            }
        }

        return tree;
    }

    private static long StatusKiB(int pid, string key)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                var value = line[key.Length..].Trim();
                return long.Parse(value[..value.IndexOf(' ', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"/proc/{pid}/status has no {key}");
    }

    private static double ReadTicksPerSecond()
    {
        var ticks = sysconf(ScClkTck);
        return ticks > 0 ? ticks : 100;
    }

    [LibraryImport("libc")]
    private static partial long sysconf(int name);
}
