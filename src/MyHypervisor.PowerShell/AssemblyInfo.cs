// microVMs mean Linux: KVM/TCG QEMU, TAP devices, /proc and unix sockets.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
