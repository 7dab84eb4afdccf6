#!/usr/bin/perl
# Capture a VNC server's screen with Debian's Net::VNC: vnc_capture.pl HOST PORT OUT.png
# Prints the screen size the server announced. $VNC_PASSWORD: the VNC password to give.
use strict;
use warnings;
use Net::VNC;

my ($host, $port, $out) = @ARGV;
die "usage: vnc_capture.pl HOST PORT OUT.png\n" unless $out;
my $vnc = Net::VNC->new({ hostname => $host, port => $port, password => $ENV{VNC_PASSWORD} });
$vnc->depth(24);
$vnc->login;
printf "%dx%d\n", $vnc->width, $vnc->height;
$vnc->capture->save($out);
