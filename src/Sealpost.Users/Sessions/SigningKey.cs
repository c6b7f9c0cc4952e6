using System.Buffers.Text;
using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;
using Sealpost.Protocol;

namespace Sealpost.Users.Sessions;

/// <summary>
/// The ES256 key shared by every users instance. The first instance to start writes it (atomically, created 0600 in a
/// folder it creates 0700);
/// the others read the same file, so a token issued by one instance verifies on all of them.
/// </summary>
public sealed class SigningKey
{
    public SigningKey(TokenOptions options)
    {
        var ecdsa = ECDsa.Create();
        ecdsa.ImportFromPem(LoadOrCreatePem(options.SigningKeyPath));
        var parameters = ecdsa.ExportParameters(includePrivateParameters: false);
        var x = Base64Url.EncodeToString(parameters.Q.X);
        var y = Base64Url.EncodeToString(parameters.Q.Y);
        // RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
        var thumbprint = SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($$"""{"crv":"P-256","kty":"EC","x":"{{x}}","y":"{{y}}"}"""));
        var kid = Base64Url.EncodeToString(thumbprint);
        SecurityKey = new ECDsaSecurityKey(ecdsa) { KeyId = kid };
        Credentials = new SigningCredentials(SecurityKey, SecurityAlgorithms.EcdsaSha256);
        PublicJwk = new EcPublicJwk("EC", "P-256", x, y, kid, "sig", "ES256");
    }

    public ECDsaSecurityKey SecurityKey { get; }

    public SigningCredentials Credentials { get; }

    public EcPublicJwk PublicJwk { get; }

    private static string LoadOrCreatePem(string path)
    {
        if (File.Exists(path)) return File.ReadAllText(path);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(folder);
        else Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using var fresh = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        // Created 0600: the private key is never readable by others, not even for a moment before a chmod.
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new StreamWriter(temp, System.Text.Encoding.ASCII, create))
            file.Write(fresh.ExportPkcs8PrivateKeyPem());
        try
        {
            // Without overwrite the move fails if another instance won the race; then its key is the key.
            File.Move(temp, path, overwrite: false);
        }
        catch (IOException)
        {
            File.Delete(temp);
        }
        return File.ReadAllText(path);
    }
}
