using System.Text.Json.Nodes;

namespace Sealpost.Crypto.Tests;

public sealed class KeyFileTests : IDisposable
{
    private const string Passphrase = "correct horse battery staple";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "sealpost-keyfile-tests", Guid.NewGuid().ToString("N"));
    private readonly X25519KeyPair _keyPair = X25519KeyPair.Generate();

    private string KeyPath => Path.Combine(_directory, "keys", "alice.key");

    public void Dispose()
    {
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void Saved_key_loads_back_with_the_right_passphrase()
    {
        KeyFile.Save(KeyPath, "alice", _keyPair, Passphrase);

        var stored = KeyFile.Load(KeyPath, Passphrase);
        Assert.Equal("alice", stored.Username);
        Assert.Equal(_keyPair.PrivateKey.ToArray(), stored.KeyPair.PrivateKey.ToArray());
        Assert.Equal(_keyPair.PublicKey.ToArray(), stored.KeyPair.PublicKey.ToArray());
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(KeyPath)!, "*.tmp"));
    }

    [Fact]
    public void An_identity_key_loads_back_and_neither_kind_of_file_passes_for_the_other()
    {
        using var identity = IdentityKey.Generate();
        var identityPath = Path.Combine(_directory, "keys", "identity.key");
        KeyFile.SaveIdentity(identityPath, "alice", identity, Passphrase);
        KeyFile.Save(KeyPath, "alice", _keyPair, Passphrase);

        var (username, loaded) = KeyFile.LoadIdentity(identityPath, Passphrase);
        using (loaded)
        {
            Assert.Equal("alice", username);
            Assert.Equal(identity.PublicKey, loaded.PublicKey);
            Assert.True(IdentityKey.Verify(identity.PublicKey, "signed"u8, loaded.Sign("signed"u8)));
        }
        Assert.Equal("identity", JsonNode.Parse(File.ReadAllText(identityPath))!["kind"]!.GetValue<string>());
        Assert.Equal(KeyFileError.Damaged, Assert.Throws<KeyFileException>(() => KeyFile.Load(identityPath, Passphrase)).Error);
        Assert.Equal(KeyFileError.Damaged, Assert.Throws<KeyFileException>(() => KeyFile.LoadIdentity(KeyPath, Passphrase)).Error);
        // Relabelled by hand, an identity file still fails: its seal is under the identity label.
        var relabelled = JsonNode.Parse(File.ReadAllText(identityPath))!.AsObject();
        relabelled.Remove("kind");
        File.WriteAllText(KeyPath + ".x", relabelled.ToJsonString());
        Assert.Throws<KeyFileException>(() => KeyFile.Load(KeyPath + ".x", Passphrase));
        Assert.Equal(KeyFileError.WrongPassphraseOrDamaged, Assert.Throws<KeyFileException>(() => KeyFile.LoadIdentity(identityPath, "wrong passphrase")).Error);
    }

    [Fact]
    public void The_file_is_self_describing_and_does_not_hold_the_private_key_in_clear()
    {
        KeyFile.Save(KeyPath, "alice", _keyPair, Passphrase);

        var text = File.ReadAllText(KeyPath);
        var json = JsonNode.Parse(text)!;
        Assert.Equal("sealpost-private-key", (string?)json["format"]);
        Assert.Equal(1, (int?)json["version"]);
        Assert.Equal("alice", (string?)json["username"]);
        Assert.Equal(Base64UrlOf(_keyPair.PublicKey), (string?)json["public_key"]);
        Assert.Equal("argon2id", (string?)json["kdf"]!["algorithm"]);
        Assert.Equal(65536, (int?)json["kdf"]!["memory_kib"]);
        Assert.Equal(3, (int?)json["kdf"]!["passes"]);
        Assert.Equal("aes-256-gcm", (string?)json["cipher"]!["algorithm"]);
        Assert.DoesNotContain(Base64UrlOf(_keyPair.PrivateKey), text, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexStringLower(_keyPair.PrivateKey), text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void The_file_is_readable_and_writable_by_its_owner_only()
    {
        if (OperatingSystem.IsWindows())
            return;

        KeyFile.Save(KeyPath, "alice", _keyPair, Passphrase);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyPath));
    }

    [Fact]
    public void A_wrong_passphrase_is_reported_as_wrong_passphrase_or_damaged()
    {
        KeyFile.Save(KeyPath, "alice", _keyPair, Passphrase);

        var error = Assert.Throws<KeyFileException>(() => KeyFile.Load(KeyPath, "Correct horse battery staple"));
        Assert.Equal(KeyFileError.WrongPassphraseOrDamaged, error.Error);
        Assert.Contains("wrong passphrase or damaged key file", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("cannot be told apart", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_swapped_username_or_public_key_fails_the_check()
    {
        KeyFile.Save(KeyPath, "alice", _keyPair, Passphrase);
        var json = JsonNode.Parse(File.ReadAllText(KeyPath))!;
        json["username"] = "mallory";
        File.WriteAllText(KeyPath, json.ToJsonString());

        Assert.Equal(KeyFileError.WrongPassphraseOrDamaged, Assert.Throws<KeyFileException>(() => KeyFile.Load(KeyPath, Passphrase)).Error);
    }

    [Fact]
    public void A_missing_file_says_so()
    {
        var error = Assert.Throws<KeyFileException>(() => KeyFile.Load(KeyPath, Passphrase));
        Assert.Equal(KeyFileError.NotFound, error.Error);
        Assert.Contains(KeyPath, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_file_is_reported_as_damaged_at_every_length()
    {
        KeyFile.Save(KeyPath, "alice", _keyPair, Passphrase);
        var bytes = File.ReadAllBytes(KeyPath);

        // Cutting inside the JSON breaks the syntax, so no passphrase guess (and no Argon2 run) is needed to reject it.
        for (var length = 0; length < bytes.Length - 2; length += 7)
        {
            File.WriteAllBytes(KeyPath, bytes[..length]);
            Assert.Equal(KeyFileError.Damaged, Assert.Throws<KeyFileException>(() => KeyFile.Load(KeyPath, Passphrase)).Error);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json at all")]
    [InlineData("[1, 2, 3]")]
    [InlineData("{}")]
    [InlineData("{\"format\": \"sealpost-private-key\"}")]
    [InlineData("{\"format\": \"something-else\", \"version\": 1}")]
    [InlineData("{\"format\": \"sealpost-private-key\", \"version\": \"one\"}")]
    [InlineData("{\"format\": \"sealpost-private-key\", \"version\": 1}")]
    [InlineData("{\"format\": \"sealpost-private-key\", \"version\": 1, \"username\": \"alice\", \"public_key\": \"!!\"}")]
    public void Garbage_is_reported_as_damaged(string contents)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(KeyPath)!);
        File.WriteAllText(KeyPath, contents);

        var error = Assert.Throws<KeyFileException>(() => KeyFile.Load(KeyPath, Passphrase));
        Assert.Equal(KeyFileError.Damaged, error.Error);
        Assert.Contains("damaged", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_binary_garbage_is_reported_as_damaged()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(KeyPath)!);
        var garbage = new byte[500];
        new Random(42).NextBytes(garbage);
        File.WriteAllBytes(KeyPath, garbage);

        Assert.Equal(KeyFileError.Damaged, Assert.Throws<KeyFileException>(() => KeyFile.Load(KeyPath, Passphrase)).Error);
    }

    [Fact]
    public void Hostile_kdf_costs_are_refused_before_running_argon2()
    {
        KeyFile.Save(KeyPath, "alice", _keyPair, Passphrase);
        var json = JsonNode.Parse(File.ReadAllText(KeyPath))!;
        json["kdf"]!["memory_kib"] = 1L << 40;
        File.WriteAllText(KeyPath, json.ToJsonString());

        Assert.Equal(KeyFileError.Damaged, Assert.Throws<KeyFileException>(() => KeyFile.Load(KeyPath, Passphrase)).Error);
    }

    [Fact]
    public void A_newer_version_is_reported_as_unsupported_not_damaged()
    {
        KeyFile.Save(KeyPath, "alice", _keyPair, Passphrase);
        var json = JsonNode.Parse(File.ReadAllText(KeyPath))!;
        json["version"] = 2;
        File.WriteAllText(KeyPath, json.ToJsonString());

        var error = Assert.Throws<KeyFileException>(() => KeyFile.Load(KeyPath, Passphrase));
        Assert.Equal(KeyFileError.UnsupportedVersion, error.Error);
        Assert.Contains("version 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_existing_key_file_is_not_replaced_unless_asked()
    {
        KeyFile.Save(KeyPath, "alice", _keyPair, Passphrase);
        var other = X25519KeyPair.Generate();

        var error = Assert.Throws<KeyFileException>(() => KeyFile.Save(KeyPath, "alice", other, Passphrase));
        Assert.Equal(KeyFileError.AlreadyExists, error.Error);
        Assert.Equal(_keyPair.PublicKey.ToArray(), KeyFile.Load(KeyPath, Passphrase).KeyPair.PublicKey.ToArray());

        KeyFile.Save(KeyPath, "alice", other, "a new passphrase", overwrite: true);
        Assert.Equal(other.PublicKey.ToArray(), KeyFile.Load(KeyPath, "a new passphrase").KeyPair.PublicKey.ToArray());
    }

    [Fact]
    public void A_non_ascii_passphrase_works()
    {
        KeyFile.Save(KeyPath, "alice", _keyPair, "pässwörd 🔑");

        Assert.Equal(_keyPair.PrivateKey.ToArray(), KeyFile.Load(KeyPath, "pässwörd 🔑").KeyPair.PrivateKey.ToArray());
    }

    [Fact]
    public void An_empty_passphrase_or_bad_username_is_refused()
    {
        Assert.Throws<ArgumentException>(() => KeyFile.Save(KeyPath, "alice", _keyPair, ""));
        Assert.Throws<ArgumentException>(() => KeyFile.Save(KeyPath, "Alice", _keyPair, Passphrase));
        Assert.False(File.Exists(KeyPath));
    }

    private static string Base64UrlOf(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
