namespace SiteX.Server.Security;

/// <summary>
/// The TLS certificate, key or CA files cannot be used. The message names the setting, the file and the problem, and
/// never holds a password or key material. Thrown at start (the gateway does not start); on a later reload the problem
/// is logged and the last good material keeps serving.
/// </summary>
public sealed class TlsConfigurationException(string message) : Exception(message);
