using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Sealpost.Client;

/// <summary>
/// How the SDK may reach a server: over https (wss for the socket), or over plain http only to this machine, since
/// passwords and tokens would otherwise cross the network in clear. A server with a certificate of its own making
/// (the one <c>scripts/up</c> makes) is trusted by naming that certificate: then it alone is trusted, not the system's
/// certificate authorities.
/// </summary>
internal static class ServerTransport
{
    /// <summary>Throws for a plain http:// (or ws://) address that is not on this machine.</summary>
    public static void EnsureSafe(Uri server)
    {
        ArgumentNullException.ThrowIfNull(server);
        var plain = server.Scheme == Uri.UriSchemeHttp || server.Scheme == Uri.UriSchemeWs;
        if (plain && !server.IsLoopback)
            throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.PlainHttp,
                $"{server.GetLeftPart(UriPartial.Authority)} is plain http: your password and tokens would cross the network in clear. " +
                "Use https:// (plain http:// is only for a server on this machine).");
    }

    /// <summary>A certificate check that accepts only certificates that are, or chain to, one in <paramref name="pemFile"/>.</summary>
    public static RemoteCertificateValidationCallback TrustOnly(string pemFile)
    {
        X509Certificate2Collection anchors = [];
        try
        {
            anchors.ImportFromPemFile(pemFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.CertificateFileUnusable, $"The certificate file {pemFile} cannot be read as PEM: {e.Message}", e);
        }
        if (anchors.Count == 0) throw new SealpostException(ErrorKind.Invalid, ClientErrorCodes.CertificateFileUnusable, $"The certificate file {pemFile} holds no certificate.");
        return (_, certificate, _, errors) =>
        {
            if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(anchors);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(certificate as X509Certificate2 ?? new X509Certificate2(certificate));
        };
    }
}
