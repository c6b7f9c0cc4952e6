namespace Sealpost.Users.Passwords;

/// <summary>Argon2id cost (section <c>Passwords</c>); never below OWASP's minimum of 19 MiB and 2 passes.</summary>
public sealed class PasswordOptions
{
    public const string Section = "Passwords";

    [System.ComponentModel.DataAnnotations.Range(19 * 1024, 4 * 1024 * 1024)]
    public int MemoryKiB { get; set; } = 19 * 1024;

    [System.ComponentModel.DataAnnotations.Range(2, 100)]
    public int Passes { get; set; } = 2;
}
