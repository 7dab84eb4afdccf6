#!/usr/bin/perl
# Type on a VNC server with Debian's Net::VNC: vnc_keys.pl HOST PORT ACTION...
# ACTION: down:KEYSYM, up:KEYSYM, key:KEYSYM (hex), text:STRING (one key per character).
# $VNC_PASSWORD: the VNC password to give.
use strict;
use warnings;
use Net::VNC;

my ($host, $port, @actions) = @ARGV;
die "usage: vnc_keys.pl HOST PORT ACTION...\n" unless @actions;
my $vnc = Net::VNC->new({ hostname => $host, port => $port, password => $ENV{VNC_PASSWORD} });
$vnc->depth(24);
$vnc->login;
for my $a (@actions) {
    my ($what, $arg) = split /:/, $a, 2;
    if ($what eq 'down') { $vnc->send_key_event_down(hex $arg) }
    elsif ($what eq 'up') { $vnc->send_key_event_up(hex $arg) }
    elsif ($what eq 'key') { $vnc->send_key_event(hex $arg) }
    elsif ($what eq 'text') { $vnc->send_key_event(ord $_) for split //, $arg }
    else { die "vnc_keys.pl: unknown action $a\n" }
    select(undef, undef, undef, 0.05);
}
select(undef, undef, undef, 0.3);
