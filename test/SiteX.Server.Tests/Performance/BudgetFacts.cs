using System.Diagnostics;
using System.Reflection;
using SiteX.Server.Routing;

namespace SiteX.Server.Tests.Performance;

/// <summary>A fact about an allocation budget: skipped when SiteX.Server is built without optimizations (Debug),
/// whose numbers the budgets are not about (see <see cref="BudgetBuild"/>).</summary>
public sealed class BudgetFactAttribute : FactAttribute
{
    public BudgetFactAttribute() => Skip = BudgetBuild.SkipReason;
}

/// <summary>A theory about allocation budgets: skipped when SiteX.Server is built without optimizations (Debug).</summary>
public sealed class BudgetTheoryAttribute : TheoryAttribute
{
    public BudgetTheoryAttribute() => Skip = BudgetBuild.SkipReason;
}

/// <summary>Whether the budgets apply to this build. They hold for Release, what CI tests and what runs in production; a
/// Debug build compiles each async method's state machine as a class, so a call that completes synchronously allocates
/// it too (PeekAsync, ReadPayloadAsync, AppendAsync: +100 to +230 B/op).</summary>
internal static class BudgetBuild
{
    public static string? SkipReason { get; } =
        typeof(RouteTable).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true
            ? "allocation budgets are for optimized builds; run dotnet test -c Release"
            : null;
}
