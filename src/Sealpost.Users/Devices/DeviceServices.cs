using Sealpost.Users.Accounts;
using Sealpost.Users.Passwords;
using Sealpost.Users.Sessions;

namespace Sealpost.Users.Devices;

/// <summary>What the device routes need, bundled with <c>[AsParameters]</c>.</summary>
public sealed record DeviceServices(AccountStore Accounts, DeviceStore Devices, PasswordCheck Passwords, SessionEvents Events, ILogger<DeviceStore> Logger);
