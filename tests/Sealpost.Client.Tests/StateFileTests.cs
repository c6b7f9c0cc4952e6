using Sealpost.Client.Messaging;
using Sealpost.Client.Storage;

namespace Sealpost.Client.Tests;

public sealed class StateFileTests : IDisposable
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly TempHome _home = new();

    public void Dispose() => _home.Dispose();

    [Fact]
    public void State_files_are_mode_0600_in_0700_folders_and_leave_no_temporary_files()
    {
        if (OperatingSystem.IsWindows()) return;
        var profile = _home.Profile();

        profile.Write(profile.SessionFile, new SessionState { Username = "alice", AccessToken = "t", RefreshToken = "r" }, LocalJsonContext.Default.SessionState);
        profile.Write(profile.SessionFile, new SessionState { Username = "alice", AccessToken = "t2", RefreshToken = "r2" }, LocalJsonContext.Default.SessionState);

        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(profile.SessionFile));
        Assert.Equal(OwnerReadWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(profile.Root));
        Assert.Equal(OwnerReadWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_home.Path));
        Assert.Equal(["session.json"], Directory.GetFiles(profile.Root).Select(Path.GetFileName));
        Assert.Equal("t2", profile.Read(profile.SessionFile, LocalJsonContext.Default.SessionState)!.AccessToken);
    }

    [Fact]
    public void A_file_with_looser_permissions_is_tightened_when_rewritten()
    {
        if (OperatingSystem.IsWindows()) return;
        var profile = _home.Profile();
        profile.EnsureExists();
        File.WriteAllText(profile.AccountFile, "{}");
        File.SetUnixFileMode(profile.AccountFile, OwnerReadWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        profile.Write(profile.AccountFile, new AccountState { Username = "alice", Server = "http://x/", KeyId = 1 }, LocalJsonContext.Default.AccountState);

        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(profile.AccountFile));
    }

    [Fact]
    public void A_damaged_file_is_a_clear_error_and_a_missing_one_is_nothing()
    {
        var profile = _home.Profile();
        Assert.Null(profile.ReadAccount());
        profile.EnsureExists();
        File.WriteAllText(profile.AccountFile, "{ not json");

        var e = Assert.Throws<SealpostException>(() => profile.ReadAccount());

        Assert.Equal(ErrorKind.Invalid, e.Kind);
        Assert.Contains("damaged", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("../escape")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    public void Profile_names_cannot_leave_the_profiles_folder(string name) =>
        Assert.Equal(ErrorKind.Invalid, Assert.Throws<SealpostException>(() => _home.Profile(name)).Kind);

    [Fact]
    public void Profiles_live_in_separate_folders_under_the_home()
    {
        Assert.Equal(Path.Combine(_home.Path, "profiles", "work"), _home.Profile("work").Root);
        Assert.Equal("/x", ProfileFolder.DefaultHome(n => n == "SEALPOST_HOME" ? "/x" : null));
        Assert.EndsWith(".sealpost", ProfileFolder.DefaultHome(_ => null), StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_keeps_one_copy_of_each_message_and_filters_by_peer()
    {
        var history = new MessageHistory(_home.Profile());

        Assert.True(await history.AddAsync(Entry("m1", "bob", "hi"), default));
        Assert.False(await history.AddAsync(Entry("m1", "bob", "hi again"), default));
        Assert.True(await history.AddAsync(Entry("m2", "carol", "yo"), default));
        Assert.True(await history.AddAsync(Entry("m3", "bob", "bye"), default));

        Assert.Equal(["m1", "m2", "m3"], history.List().Select(e => e.Id));
        Assert.Equal(["hi", "bye"], history.List("bob").Select(e => e.Text));
        Assert.Equal(["m3"], history.List(last: 1).Select(e => e.Id));
        Assert.True(history.Contains("m2"));
        Assert.False(history.Contains("m2", HistoryDirections.Out));
        if (!OperatingSystem.IsWindows()) Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(_home.Profile().HistoryFile));
    }

    [Fact]
    public async Task Concurrent_writers_of_one_profile_lose_nothing()
    {
        var profile = _home.Profile();
        // Two MessageHistory objects stand for two processes: only the lock file serialises them.
        var a = new MessageHistory(profile);
        var b = new MessageHistory(new ProfileFolder(_home.Path));

        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() => (i % 2 == 0 ? a : b).AddAsync(Entry($"m{i}", "bob", "x"), default))));

        Assert.Equal(40, a.List().Count);
    }

    internal static HistoryEntry Entry(string id, string peer, string text) => new()
    {
        Id = id,
        Direction = HistoryDirections.In,
        Peer = peer,
        Text = text,
        SentAt = DateTimeOffset.UtcNow,
        StoredAt = DateTimeOffset.UtcNow,
    };
}
