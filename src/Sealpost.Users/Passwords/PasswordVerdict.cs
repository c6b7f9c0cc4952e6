namespace Sealpost.Users.Passwords;

/// <summary>What a throttled password check found: right, wrong, or not checked because the caller must wait.</summary>
public readonly record struct PasswordVerdict(bool IsRight, TimeSpan? Wait)
{
    public static PasswordVerdict Right => new(true, null);

    public static PasswordVerdict Wrong => new(false, null);

    public static PasswordVerdict Throttled(TimeSpan wait) => new(false, wait);
}
