namespace SiteX.Server.Admin;

/// <summary>Set on every connection accepted by the admin listener (and visible to its requests): the only way a
/// request reaches the admin endpoints.</summary>
internal sealed class AdminListenerFeature
{
    public static AdminListenerFeature Instance { get; } = new();

    private AdminListenerFeature()
    {
    }
}
