using Sealpost.Client.Storage;
using Sealpost.Protocol;

namespace Sealpost.Client.Accounts;

/// <summary>
/// Keeps the session in <c>session.json</c> and hands out access tokens, refreshing them a minute before they
/// expire. Refresh tokens rotate on use and a replayed one ends the session, so the refresh happens under the
/// profile lock after re-reading the file: a second process of the same profile uses the token the first one got.
/// </summary>
internal sealed class SessionKeeper(ProfileFolder folder, UsersApiClient api, TimeProvider? time = null)
{
    /// <summary>How long before expiry a token is renewed: comfortably more than one request takes.</summary>
    public static readonly TimeSpan RefreshMargin = TimeSpan.FromSeconds(60);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private SessionState? _current;

    public SessionState? Current => _current ??= folder.Read(folder.SessionFile, LocalJsonContext.Default.SessionState);

    public void Save(SessionResponse session, string username)
    {
        _current = new SessionState
        {
            Username = username,
            AccessToken = session.AccessToken,
            ExpiresAt = session.ExpiresAt,
            RefreshToken = session.RefreshToken,
            RefreshExpiresAt = session.RefreshExpiresAt,
        };
        folder.Write(folder.SessionFile, _current, LocalJsonContext.Default.SessionState);
    }

    public void Forget()
    {
        _current = null;
        ProfileFolder.TryDelete(folder.SessionFile);
    }

    /// <summary>A token good for at least <see cref="RefreshMargin"/>.</summary>
    public Task<AccessToken> GetAsync(CancellationToken ct) => GetAsync(null, ct);

    /// <summary>
    /// A token good for at least <see cref="RefreshMargin"/>. Pass the token the server just refused as
    /// <paramref name="rejected"/> to force a new one even if its clock says it is still valid.
    /// </summary>
    public async Task<AccessToken> GetAsync(string? rejected, CancellationToken ct)
    {
        var session = Current ?? throw NotLoggedIn();
        if (rejected is null && IsFresh(session)) return new AccessToken(session.AccessToken, session.ExpiresAt);

        using var held = await folder.LockAsync(ct).ConfigureAwait(false);
        // Another process may have refreshed while we waited for the lock: its token is as good as ours would be.
        _current = null;
        session = Current ?? throw NotLoggedIn();
        if (session.AccessToken != rejected && IsFresh(session)) return new AccessToken(session.AccessToken, session.ExpiresAt);
        if (session.RefreshExpiresAt <= _time.GetUtcNow()) throw Ended();

        SessionResponse renewed;
        try
        {
            renewed = await api.RefreshAsync(session.RefreshToken, ct).ConfigureAwait(false);
        }
        catch (SealpostException e) when (e.Kind == ErrorKind.Auth)
        {
            Forget();
            throw Ended(e);
        }
        Save(renewed, session.Username);
        return new AccessToken(renewed.AccessToken, renewed.ExpiresAt);
    }

    private bool IsFresh(SessionState session) => session.ExpiresAt - _time.GetUtcNow() > RefreshMargin;

    private static SealpostException NotLoggedIn() => new(ErrorKind.Auth, ClientErrorCodes.NotLoggedIn, "You are not logged in.");

    private static SealpostException Ended(Exception? inner = null) => new(ErrorKind.Auth, ClientErrorCodes.SessionEnded, "Your session has ended.", inner);
}
